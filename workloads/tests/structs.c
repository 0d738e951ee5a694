/*
 * structs.c: data layout and the moves gcc makes for it: structs passed
 * and returned by value (small ones in registers, large ones through
 * memory and memcpy), bit-fields, unions, packed structs with unaligned
 * fields, arrays of structs, and the sign and zero extension of 8- and
 * 16-bit values (movsx/movzx).
 */
#include "rt.h"

struct pair {
    int32_t x, y;
};

struct big_record {
    uint64_t id;
    char name[40];
    int32_t values[16];
    struct pair corner[2];
};

struct flags {
    unsigned ready : 1;
    unsigned mode : 3;
    signed level : 5;
    unsigned count : 12;
    unsigned long long wide : 40;
};

union number {
    uint64_t u64;
    int64_t i64;
    uint32_t u32[2];
    uint16_t u16[4];
    uint8_t u8[8];
};

struct __attribute__((packed)) wire_header {
    uint8_t kind;
    uint32_t length; /* at offset 1: unaligned */
    uint16_t flags;  /* at offset 5 */
    uint64_t stamp;  /* at offset 7 */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static struct pair pair_add(struct pair a, struct pair b)
{
    struct pair r = {a.x + b.x, a.y + b.y};

    return r;
}

static struct big_record make_record(uint64_t id, const char *name)
{
    struct big_record r;
    int i;

    memset(&r, 0, sizeof(r));
    r.id = id;
    memcpy(r.name, name, strlen(name) + 1);
    for (i = 0; i < 16; i++) {
        r.values[i] = (int32_t)(id * 31 + (uint64_t)i * 7) - 100;
    }
    r.corner[0] = (struct pair){(int32_t)id, -(int32_t)id};
    r.corner[1] = pair_add(r.corner[0], (struct pair){10, 20});
    return r;
}

static uint64_t record_hash(struct big_record r)
{
    uint64_t h = mix(0, r.id);
    size_t i;

    for (i = 0; r.name[i] != '\0'; i++) {
        h = mix(h, (unsigned char)r.name[i]);
    }
    for (i = 0; i < 16; i++) {
        h = mix(h, (uint32_t)r.values[i]);
    }
    h = mix(h, (uint32_t)r.corner[1].x);
    return mix(h, (uint32_t)r.corner[1].y);
}

static void by_value(void)
{
    static struct big_record table[8];
    struct big_record copy;
    uint64_t h = 0;
    int i;

    for (i = 0; i < 8; i++) {
        char name[16];

        rt_snprintf(name, sizeof(name), "record-%d", i);
        table[i] = make_record((uint64_t)i * 1000 + 1, name);
    }
    copy = table[3];
    copy.values[0] = 12345;
    for (i = 0; i < 8; i++) {
        h = mix(h, record_hash(table[i]));
    }
    rt_printf("records: sizeof %zu, hash %016llx, copy differs: %d, "
              "table[3].values[0] = %d, corner %d,%d\n",
              sizeof(struct big_record), (unsigned long long)h,
              memcmp(&copy, &table[3], sizeof(copy)) != 0, table[3].values[0],
              table[3].corner[1].x, table[3].corner[1].y);
}

static void bitfields(void)
{
    struct flags f;
    uint64_t h = 0;
    int i;

    memset(&f, 0, sizeof(f));
    for (i = 0; i < 100; i++) {
        f.ready = (unsigned)i & 1;
        f.mode = (unsigned)i * 3;
        f.level = (signed)(i % 32) - 16;
        f.count += (unsigned)i * 37;
        f.wide = f.wide * 3 + (unsigned long long)i;
        h = mix(h, f.ready);
        h = mix(h, f.mode);
        h = mix(h, (uint64_t)(int64_t)f.level);
        h = mix(h, f.count);
        h = mix(h, f.wide);
    }
    rt_printf("bitfields: sizeof %zu, ready %u mode %u level %d count %u "
              "wide %llx, hash %016llx\n",
              sizeof(f), f.ready, f.mode, f.level, f.count,
              (unsigned long long)f.wide, (unsigned long long)h);
}

static void unions(void)
{
    union number n;
    int i;

    n.u64 = 0x0102030405060708ull;
    rt_printf("union: u32 %08x %08x u16 %04x %04x %04x %04x u8[0] %02x "
              "u8[7] %02x\n",
              n.u32[0], n.u32[1], n.u16[0], n.u16[1], n.u16[2], n.u16[3],
              n.u8[0], n.u8[7]);
    for (i = 0; i < 8; i++) {
        n.u8[i] = (uint8_t)(0xf0 + i);
    }
    rt_printf("union: i64 %lld u64 %016llx\n", (long long)n.i64,
              (unsigned long long)n.u64);
}

static void packed(void)
{
    static uint8_t buffer[64];
    struct wire_header *hdr;
    uint64_t h = 0;
    int offset;

    rt_printf("packed: sizeof %zu, offsets %zu %zu %zu\n",
              sizeof(struct wire_header),
              __builtin_offsetof(struct wire_header, length),
              __builtin_offsetof(struct wire_header, flags),
              __builtin_offsetof(struct wire_header, stamp));
    for (offset = 0; offset < 8; offset++) {
        memset(buffer, 0, sizeof(buffer));
        hdr = (struct wire_header *)(void *)(buffer + offset);
        hdr->kind = (uint8_t)(0x40 + offset);
        hdr->length = 0x11223344u + (uint32_t)offset;
        hdr->flags = (uint16_t)(0xa5a5 ^ offset);
        hdr->stamp = 0x0102030405060708ull << offset;
        h = mix(h, buffer[offset + 1]);
        h = mix(h, buffer[offset + 7]);
        h = mix(h, hdr->length);
        h = mix(h, hdr->stamp);
    }
    rt_printf("packed: hash %016llx, last bytes %02x %02x %02x %02x\n",
              (unsigned long long)h, buffer[7], buffer[8], buffer[12],
              buffer[14]);
}

static void extension(void)
{
    static volatile int8_t s8[] = {0, 1, -1, 127, -128, 64, -65};
    static volatile int16_t s16[] = {0, 1, -1, 32767, -32768, 255, -256};
    uint64_t h = 0;
    size_t i;

    for (i = 0; i < 7; i++) {
        int8_t a = s8[i];
        int16_t b = s16[i];
        uint8_t ua = (uint8_t)a;
        uint16_t ub = (uint16_t)b;

        h = mix(h, (uint64_t)(int64_t)a);
        h = mix(h, (uint64_t)(int64_t)b);
        h = mix(h, ua);
        h = mix(h, ub);
        h = mix(h, (uint64_t)(int64_t)(int32_t)(a * b));
        h = mix(h, (uint32_t)(ua * ub));
        h = mix(h, (uint64_t)(int64_t)(int8_t)(a + 100));
    }
    rt_printf("extension: hash %016llx, (int8)-128 as u64 %016llx, "
              "(uint8)-1 %u\n",
              (unsigned long long)h, (unsigned long long)(int64_t)s8[4],
              (unsigned)(uint8_t)s8[2]);
}

int main(void)
{
    by_value();
    bitfields();
    unions();
    packed();
    extension();
    return 0;
}
