/*
 * sha256.c: SHA-256 and SHA-512 (FIPS 180-4) of known strings.
 *
 * Prints each digest and whether it matches the published test vector;
 * also hashes a long run of 'a's fed in uneven pieces, which exercises the
 * buffering and the length encoding.  Rotates, shifts, 32- and 64-bit adds
 * and big-endian loads are the instruction mix.
 */
#include "rt.h"

struct sha256_ctx {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used;
};

struct sha512_ctx {
    uint64_t state[8];
    uint64_t length;
    uint8_t block[128];
    size_t used;
};

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint64_t sha512_k[80] = {
    0x428a2f98d728ae22ull, 0x7137449123ef65cdull, 0xb5c0fbcfec4d3b2full,
    0xe9b5dba58189dbbcull, 0x3956c25bf348b538ull, 0x59f111f1b605d019ull,
    0x923f82a4af194f9bull, 0xab1c5ed5da6d8118ull, 0xd807aa98a3030242ull,
    0x12835b0145706fbeull, 0x243185be4ee4b28cull, 0x550c7dc3d5ffb4e2ull,
    0x72be5d74f27b896full, 0x80deb1fe3b1696b1ull, 0x9bdc06a725c71235ull,
    0xc19bf174cf692694ull, 0xe49b69c19ef14ad2ull, 0xefbe4786384f25e3ull,
    0x0fc19dc68b8cd5b5ull, 0x240ca1cc77ac9c65ull, 0x2de92c6f592b0275ull,
    0x4a7484aa6ea6e483ull, 0x5cb0a9dcbd41fbd4ull, 0x76f988da831153b5ull,
    0x983e5152ee66dfabull, 0xa831c66d2db43210ull, 0xb00327c898fb213full,
    0xbf597fc7beef0ee4ull, 0xc6e00bf33da88fc2ull, 0xd5a79147930aa725ull,
    0x06ca6351e003826full, 0x142929670a0e6e70ull, 0x27b70a8546d22ffcull,
    0x2e1b21385c26c926ull, 0x4d2c6dfc5ac42aedull, 0x53380d139d95b3dfull,
    0x650a73548baf63deull, 0x766a0abb3c77b2a8ull, 0x81c2c92e47edaee6ull,
    0x92722c851482353bull, 0xa2bfe8a14cf10364ull, 0xa81a664bbc423001ull,
    0xc24b8b70d0f89791ull, 0xc76c51a30654be30ull, 0xd192e819d6ef5218ull,
    0xd69906245565a910ull, 0xf40e35855771202aull, 0x106aa07032bbd1b8ull,
    0x19a4c116b8d2d0c8ull, 0x1e376c085141ab53ull, 0x2748774cdf8eeb99ull,
    0x34b0bcb5e19b48a8ull, 0x391c0cb3c5c95a63ull, 0x4ed8aa4ae3418acbull,
    0x5b9cca4f7763e373ull, 0x682e6ff3d6b2b8a3ull, 0x748f82ee5defb2fcull,
    0x78a5636f43172f60ull, 0x84c87814a1f0ab72ull, 0x8cc702081a6439ecull,
    0x90befffa23631e28ull, 0xa4506cebde82bde9ull, 0xbef9a3f7b2c67915ull,
    0xc67178f2e372532bull, 0xca273eceea26619cull, 0xd186b8c721c0c207ull,
    0xeada7dd6cde0eb1eull, 0xf57d4f7fee6ed178ull, 0x06f067aa72176fbaull,
    0x0a637dc5a2c898a6ull, 0x113f9804bef90daeull, 0x1b710b35131c471bull,
    0x28db77f523047d84ull, 0x32caab7b40c72493ull, 0x3c9ebe0a15c9bebcull,
    0x431d67c49c100d4cull, 0x4cc5d4becb3e42b6ull, 0x597f299cfc657e2aull,
    0x5fcb6fab3ad6faecull, 0x6c44198c4a475817ull,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint64_t ror64(uint64_t x, unsigned n)
{
    return (x >> n) | (x << (64 - n));
}

static void sha256_init(struct sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};

    memcpy(c->state, iv, sizeof(iv));
    c->length = 0;
    c->used = 0;
}

static void sha256_block(struct sha256_ctx *c, const uint8_t *p)
{
    uint32_t w[64];
    uint32_t a, b, cc, d, e, f, g, h;
    int i;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    }
    for (i = 16; i < 64; i++) {
        uint32_t s0 =
            ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 =
            ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);

        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = c->state[0];
    b = c->state[1];
    cc = c->state[2];
    d = c->state[3];
    e = c->state[4];
    f = c->state[5];
    g = c->state[6];
    h = c->state[7];
    for (i = 0; i < 64; i++) {
        uint32_t s1 = ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + s1 + ch + sha256_k[i] + w[i];
        uint32_t s0 = ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22);
        uint32_t maj = (a & b) ^ (a & cc) ^ (b & cc);
        uint32_t t2 = s0 + maj;

        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->state[0] += a;
    c->state[1] += b;
    c->state[2] += cc;
    c->state[3] += d;
    c->state[4] += e;
    c->state[5] += f;
    c->state[6] += g;
    c->state[7] += h;
}

static void sha256_update(struct sha256_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;

    c->length += n;
    while (n > 0) {
        size_t take = 64 - c->used;

        if (take > n) {
            take = n;
        }
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used == 64) {
            sha256_block(c, c->block);
            c->used = 0;
        }
    }
}

static void sha256_final(struct sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->length * 8;
    uint8_t pad = 0x80;
    uint8_t len_be[8];
    int i;

    sha256_update(c, &pad, 1);
    pad = 0;
    while (c->used != 56) {
        sha256_update(c, &pad, 1);
    }
    for (i = 0; i < 8; i++) {
        len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    sha256_update(c, len_be, 8);
    for (i = 0; i < 32; i++) {
        out[i] = (uint8_t)(c->state[i / 4] >> (24 - 8 * (i % 4)));
    }
}

static void sha512_init(struct sha512_ctx *c)
{
    static const uint64_t iv[8] = {
        0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull,
        0xa54ff53a5f1d36f1ull, 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full,
        0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
    };

    memcpy(c->state, iv, sizeof(iv));
    c->length = 0;
    c->used = 0;
}

static void sha512_block(struct sha512_ctx *c, const uint8_t *p)
{
    uint64_t w[80];
    uint64_t v[8];
    int i, j;

    for (i = 0; i < 16; i++) {
        w[i] = 0;
        for (j = 0; j < 8; j++) {
            w[i] = w[i] << 8 | p[8 * i + j];
        }
    }
    for (i = 16; i < 80; i++) {
        uint64_t s0 =
            ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^ (w[i - 15] >> 7);
        uint64_t s1 =
            ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^ (w[i - 2] >> 6);

        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, c->state, sizeof(v));
    for (i = 0; i < 80; i++) {
        uint64_t s1 = ror64(v[4], 14) ^ ror64(v[4], 18) ^ ror64(v[4], 41);
        uint64_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
        uint64_t t1 = v[7] + s1 + ch + sha512_k[i] + w[i];
        uint64_t s0 = ror64(v[0], 28) ^ ror64(v[0], 34) ^ ror64(v[0], 39);
        uint64_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);

        memmove(&v[1], &v[0], 7 * sizeof(v[0]));
        v[4] += t1;
        v[0] = t1 + s0 + maj;
    }
    for (i = 0; i < 8; i++) {
        c->state[i] += v[i];
    }
}

static void sha512_update(struct sha512_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;

    c->length += n;
    while (n > 0) {
        size_t take = 128 - c->used;

        if (take > n) {
            take = n;
        }
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used == 128) {
            sha512_block(c, c->block);
            c->used = 0;
        }
    }
}

static void sha512_final(struct sha512_ctx *c, uint8_t out[64])
{
    uint64_t bits = c->length * 8;
    uint8_t pad = 0x80;
    uint8_t len_be[16];
    int i;

    sha512_update(c, &pad, 1);
    pad = 0;
    while (c->used != 112) {
        sha512_update(c, &pad, 1);
    }
    for (i = 0; i < 16; i++) {
        len_be[i] = i < 8 ? 0 : (uint8_t)(bits >> (56 - 8 * (i - 8)));
    }
    sha512_update(c, len_be, 16);
    for (i = 0; i < 64; i++) {
        out[i] = (uint8_t)(c->state[i / 8] >> (56 - 8 * (i % 8)));
    }
}

/* Prints the digest in hex and whether it equals the expected hex text. */
static void report(const char *label, const uint8_t *digest, size_t n,
                   const char *expected)
{
    char hex[129];
    size_t i;

    for (i = 0; i < n; i++) {
        rt_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    rt_printf("%s %s %s\n", label, hex,
              strcmp(hex, expected) == 0 ? "ok" : "MISMATCH");
}

#define LONG_TOTAL 25000

struct vector {
    const char *message;
    const char *sha256;
    const char *sha512;
};

static const struct vector vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
     "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
     "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
     "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
     "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
    {"The quick brown fox jumps over the lazy dog",
     "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
     "07e547d9586f6a73f73fbac0435ed76951218fb7d0c8d788a309d785436bbb64"
     "2e93a252a954f23912547d1e8a3b5ed6e1bfd7097821233fa0538f3db854fee6"},
};

int main(void)
{
    static char long_a[1000];
    struct sha256_ctx c256;
    struct sha512_ctx c512;
    uint8_t d256[32];
    uint8_t d512[64];
    size_t i, fed, piece, n;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *m = vectors[i].message;

        rt_printf("message %zu: \"%.20s%s\" (%zu bytes)\n", i, m,
                  strlen(m) > 20 ? "..." : "", strlen(m));
        sha256_init(&c256);
        sha256_update(&c256, m, strlen(m));
        sha256_final(&c256, d256);
        report("  sha256", d256, 32, vectors[i].sha256);
        sha512_init(&c512);
        sha512_update(&c512, m, strlen(m));
        sha512_final(&c512, d512);
        report("  sha512", d512, 64, vectors[i].sha512);
    }

    /* 25,000 'a's in pieces of 1, 2, ... 999, 1, 2, ... bytes. */
    memset(long_a, 'a', sizeof(long_a));
    sha256_init(&c256);
    sha512_init(&c512);
    for (fed = 0, piece = 1; fed < LONG_TOTAL; fed += n) {
        n = piece < LONG_TOTAL - fed ? piece : LONG_TOTAL - fed;
        sha256_update(&c256, long_a, n);
        sha512_update(&c512, long_a, n);
        piece = piece % (sizeof(long_a) - 1) + 1;
    }
    sha256_final(&c256, d256);
    sha512_final(&c512, d512);
    rt_printf("message 'a' x %zu\n", fed);
    report("  sha256", d256, 32,
           "e75a4260add904da049c2ee8bd50006826986a4d66e261a702161f76537a8895");
    report("  sha512", d512, 64,
           "a204121f644e6cd0bc64235249b13380c36a8354307e15bed51b3d61f8ad0dc7"
           "72db3742c58e4b9f3b9ae36162e6b566a8eeffd423528b06cf38cc4c36571770");
    return 0;
}
