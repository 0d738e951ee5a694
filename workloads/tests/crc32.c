/*
 * crc32.c: checksums of known and pseudo-random data, each computed two
 * or three ways that must agree: CRC-32 (IEEE 802.3, reflected 0xEDB88320)
 * bit by bit, by table and by slicing-by-4; CRC-32C (Castagnoli) by table
 * and bit by bit; CRC-16/CCITT (non-reflected); Adler-32; Fletcher-16.
 */
#include "rt.h"

#define CRC_DATA_SIZE 16384

static uint32_t crc32_table[4][256];
static uint32_t crc32c_table[256];
static uint8_t data[CRC_DATA_SIZE];

static void tables_init(void)
{
    uint32_t i, j, c;

    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++) {
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
        }
        crc32_table[0][i] = c;
        c = i;
        for (j = 0; j < 8; j++) {
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        crc32c_table[i] = c;
    }
    for (i = 0; i < 256; i++) {
        c = crc32_table[0][i];
        for (j = 1; j < 4; j++) {
            c = crc32_table[0][c & 0xff] ^ (c >> 8);
            crc32_table[j][i] = c;
        }
    }
}

static uint32_t crc_bitwise(uint32_t poly, const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    int k;

    while (n-- > 0) {
        c ^= *p++;
        for (k = 0; k < 8; k++) {
            c = (c >> 1) ^ (poly & (0u - (c & 1)));
        }
    }
    return ~c;
}

static uint32_t crc_table(const uint32_t *table, const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    while (n-- > 0) {
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    }
    return ~c;
}

static uint32_t crc32_slice4(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    while (n >= 4) {
        c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
             (uint32_t)p[3] << 24;
        c = crc32_table[3][c & 0xff] ^ crc32_table[2][(c >> 8) & 0xff] ^
            crc32_table[1][(c >> 16) & 0xff] ^ crc32_table[0][c >> 24];
        p += 4;
        n -= 4;
    }
    while (n-- > 0) {
        c = crc32_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    }
    return ~c;
}

static uint16_t crc16_ccitt(const uint8_t *p, size_t n)
{
    uint16_t c = 0xffff;
    int k;

    while (n-- > 0) {
        c ^= (uint16_t)(*p++ << 8);
        for (k = 0; k < 8; k++) {
            c = c & 0x8000 ? (uint16_t)(c << 1) ^ 0x1021 : (uint16_t)(c << 1);
        }
    }
    return c;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;

    while (n-- > 0) {
        a = (a + *p++) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

static uint16_t fletcher16(const uint8_t *p, size_t n)
{
    uint16_t a = 0, b = 0;

    while (n-- > 0) {
        a = (uint16_t)((a + *p++) % 255);
        b = (uint16_t)((b + a) % 255);
    }
    return (uint16_t)(b << 8 | a);
}

static void check(const char *label, const uint8_t *p, size_t n)
{
    uint32_t bit = crc_bitwise(0xedb88320u, p, n);
    uint32_t tab = crc_table(crc32_table[0], p, n);
    uint32_t s4 = crc32_slice4(p, n);
    uint32_t c_bit = crc_bitwise(0x82f63b78u, p, n);
    uint32_t c_tab = crc_table(crc32c_table, p, n);

    rt_printf("%-12s len=%5zu crc32=%08x%s crc32c=%08x%s crc16=%04x "
              "adler32=%08x fletcher16=%04x\n",
              label, n, tab, bit == tab && s4 == tab ? "" : " (DISAGREE)",
              c_tab, c_bit == c_tab ? "" : " (DISAGREE)", crc16_ccitt(p, n),
              adler32(p, n), fletcher16(p, n));
}

int main(void)
{
    static const char *const texts[] = {
        "",          "a",
        "123456789", "The quick brown fox jumps over the lazy dog",
        "Wikipedia",
    };
    uint32_t x = 0x12345678;
    size_t i;
    char label[16];

    tables_init();
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        rt_snprintf(label, sizeof(label), "text%zu", i);
        check(label, (const uint8_t *)texts[i], strlen(texts[i]));
    }
    /* Known values: CRC-32("123456789") = cbf43926, CRC-32C = e3069283. */
    rt_printf("check values: %s\n",
              crc_table(crc32_table[0], (const uint8_t *)"123456789", 9) ==
                          0xcbf43926u &&
                      crc_table(crc32c_table, (const uint8_t *)"123456789",
                                9) == 0xe3069283u
                  ? "ok"
                  : "MISMATCH");

    for (i = 0; i < CRC_DATA_SIZE; i++) {
        x = x * 1664525u + 1013904223u;
        data[i] = (uint8_t)(x >> 24);
    }
    check("random", data, CRC_DATA_SIZE);
    check("random+1", data + 1, CRC_DATA_SIZE - 7);
    check("random+3", data + 3, 1001);
    memset(data, 0, 4096);
    check("zeros", data, 4096);
    memset(data, 0xff, 4096);
    check("ones", data, 4096);
    return 0;
}
