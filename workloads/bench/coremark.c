/*
 * coremark.c: a CoreMark-like CPU benchmark (not EEMBC CoreMark itself,
 * and not comparable with its scores): the same four kinds of work on
 * small data, repeated with a new seed each iteration:
 *   - linked lists: find, reverse, merge sort by value and by index;
 *   - matrices: 16x16 int16 multiply (matrix, vector, constant), add,
 *     and a multiply of extracted bit-fields, into int32 results;
 *   - a state machine classifying a comma-separated buffer of numbers
 *     (integers, decimals, exponents, invalid tokens), also corrupted;
 *   - CRC-16 over every result, chained across iterations.
 * About 300 million instructions at -O2; the final CRC is printed so a
 * wrong result shows.
 */
#include "rt.h"

#define ITERATIONS 700
#define LIST_ITEMS 240
#define MATRIX_N 16
#define STATE_BUF 400

/* ------------------------------------------------------------------ */
/* CRC-16 (CCITT polynomial, reflected), bit by bit like CoreMark.      */
/* ------------------------------------------------------------------ */

static uint16_t crc8(uint8_t data, uint16_t crc)
{
    int i;

    for (i = 0; i < 8; i++) {
        uint8_t x16 = (uint8_t)((data & 1) ^ ((uint8_t)crc & 1));

        data >>= 1;
        if (x16 == 1) {
            crc ^= 0x4002;
        }
        crc = (uint16_t)(crc >> 1);
        if (x16) {
            crc |= 0x8000;
        }
    }
    return crc;
}

static uint16_t crc16(uint16_t v, uint16_t crc)
{
    crc = crc8((uint8_t)v, crc);
    return crc8((uint8_t)(v >> 8), crc);
}

static uint16_t crc32v(uint32_t v, uint16_t crc)
{
    crc = crc16((uint16_t)v, crc);
    return crc16((uint16_t)(v >> 16), crc);
}

/* A small deterministic generator. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* ------------------------------------------------------------------ */
/* Linked lists.                                                        */
/* ------------------------------------------------------------------ */

struct list_node {
    struct list_node *next;
    int16_t value;
    int16_t index;
};

static struct list_node list_pool[LIST_ITEMS];

typedef int (*list_cmp_fn)(const struct list_node *a,
                           const struct list_node *b);

static int cmp_value(const struct list_node *a, const struct list_node *b)
{
    return a->value - b->value;
}

static int cmp_index(const struct list_node *a, const struct list_node *b)
{
    return a->index - b->index;
}

/* Merge sort of a singly linked list (bottom-up, no recursion). */
static struct list_node *list_sort(struct list_node *list, list_cmp_fn cmp)
{
    int insize = 1;

    for (;;) {
        struct list_node *p = list, *tail = NULL;
        int merges = 0;

        list = NULL;
        while (p != NULL) {
            struct list_node *q = p;
            int psize = 0, qsize = insize, i;

            merges++;
            for (i = 0; i < insize && q != NULL; i++) {
                psize++;
                q = q->next;
            }
            while (psize > 0 || (qsize > 0 && q != NULL)) {
                struct list_node *e;

                if (psize == 0) {
                    e = q;
                    q = q->next;
                    qsize--;
                } else if (qsize == 0 || q == NULL || cmp(p, q) <= 0) {
                    e = p;
                    p = p->next;
                    psize--;
                } else {
                    e = q;
                    q = q->next;
                    qsize--;
                }
                if (tail != NULL) {
                    tail->next = e;
                } else {
                    list = e;
                }
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        if (merges <= 1) {
            return list;
        }
        insize *= 2;
    }
}

static struct list_node *list_reverse(struct list_node *list)
{
    struct list_node *prev = NULL;

    while (list != NULL) {
        struct list_node *next = list->next;

        list->next = prev;
        prev = list;
        list = next;
    }
    return prev;
}

static struct list_node *list_find(struct list_node *list, int16_t value)
{
    while (list != NULL && list->value != value) {
        list = list->next;
    }
    return list;
}

static uint16_t list_bench(uint32_t seed, uint16_t crc)
{
    struct list_node *list = NULL, *n;
    uint32_t rng = seed;
    int i, found = 0, missed = 0;

    for (i = LIST_ITEMS - 1; i >= 0; i--) {
        list_pool[i].value = (int16_t)(next_random(&rng) & 0x3fff);
        list_pool[i].index = (int16_t)i;
        list_pool[i].next = list;
        list = &list_pool[i];
    }
    for (i = 0; i < 8; i++) {
        int16_t want = list_pool[(seed + (uint32_t)i * 37) % LIST_ITEMS].value;

        n = list_find(list, i & 1 ? want : (int16_t)(want ^ 0x2000));
        if (n != NULL) {
            found++;
            crc = crc16((uint16_t)n->index, crc);
        } else {
            missed++;
        }
    }
    list = list_reverse(list);
    list = list_sort(list, cmp_value);
    for (n = list, i = 0; n != NULL && i < 64; n = n->next, i++) {
        crc = crc16((uint16_t)n->value, crc);
    }
    list = list_reverse(list);
    list = list_sort(list, cmp_index);
    for (n = list; n != NULL; n = n->next) {
        crc = crc16((uint16_t)(n->index ^ n->value), crc);
    }
    crc = crc16((uint16_t)(found * 16 + missed), crc);
    return crc;
}

/* ------------------------------------------------------------------ */
/* Matrices.                                                            */
/* ------------------------------------------------------------------ */

static int16_t mat_a[MATRIX_N][MATRIX_N];
static int16_t mat_b[MATRIX_N][MATRIX_N];
static int32_t mat_c[MATRIX_N][MATRIX_N];

static uint16_t matrix_crc(uint16_t crc)
{
    int i, j;

    for (i = 0; i < MATRIX_N; i++) {
        for (j = 0; j < MATRIX_N; j++) {
            crc = crc16((uint16_t)mat_c[i][j], crc);
        }
    }
    return crc;
}

static uint16_t matrix_bench(uint32_t seed, uint16_t crc)
{
    int16_t vec[MATRIX_N];
    uint32_t rng = seed ^ 0x5a5a;
    int16_t k = (int16_t)(seed & 0xff);
    int i, j, m;

    for (i = 0; i < MATRIX_N; i++) {
        vec[i] = (int16_t)(next_random(&rng) & 0xff) - 128;
        for (j = 0; j < MATRIX_N; j++) {
            mat_a[i][j] = (int16_t)((next_random(&rng) & 0x1ff) - 256);
            mat_b[i][j] = (int16_t)((next_random(&rng) & 0x1ff) - 256);
        }
    }

    /* C = A * k */
    for (i = 0; i < MATRIX_N; i++) {
        for (j = 0; j < MATRIX_N; j++) {
            mat_c[i][j] = (int32_t)mat_a[i][j] * k;
        }
    }
    crc = matrix_crc(crc);

    /* C[i][0] = A * vec */
    for (i = 0; i < MATRIX_N; i++) {
        int32_t sum = 0;

        for (j = 0; j < MATRIX_N; j++) {
            sum += (int32_t)mat_a[i][j] * vec[j];
        }
        mat_c[i][0] = sum;
    }
    crc = matrix_crc(crc);

    /* C = A * B */
    for (i = 0; i < MATRIX_N; i++) {
        for (j = 0; j < MATRIX_N; j++) {
            int32_t sum = 0;

            for (m = 0; m < MATRIX_N; m++) {
                sum += (int32_t)mat_a[i][m] * mat_b[m][j];
            }
            mat_c[i][j] = sum;
        }
    }
    crc = matrix_crc(crc);

    /* C = A * bits(B), bits = bits 2..5 of B, then A += k */
    for (i = 0; i < MATRIX_N; i++) {
        for (j = 0; j < MATRIX_N; j++) {
            int32_t sum = 0;

            for (m = 0; m < MATRIX_N; m++) {
                int32_t bits = ((uint16_t)mat_b[m][j] >> 2) & 0xf;

                sum += (int32_t)mat_a[i][m] * bits;
            }
            mat_c[i][j] = sum;
        }
    }
    crc = matrix_crc(crc);
    for (i = 0; i < MATRIX_N; i++) {
        for (j = 0; j < MATRIX_N; j++) {
            mat_a[i][j] = (int16_t)(mat_a[i][j] + k);
            crc = crc16((uint16_t)mat_a[i][j], crc);
        }
    }
    return crc;
}

/* ------------------------------------------------------------------ */
/* State machine.                                                       */
/* ------------------------------------------------------------------ */

enum state {
    ST_START,
    ST_INVALID,
    ST_SIGN,
    ST_INT,
    ST_DOT,
    ST_FLOAT,
    ST_EXP,
    ST_EXP_SIGN,
    ST_SCIENTIFIC,
    ST_COUNT,
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Classifies one token starting at *p; advances past it and its comma. */
static enum state next_state(const char **p, unsigned *transitions)
{
    enum state s = ST_START;

    for (; **p != '\0' && **p != ','; (*p)++) {
        char c = **p;
        enum state old = s;

        switch (s) {
        case ST_START:
            s = is_digit(c)            ? ST_INT
                : c == '+' || c == '-' ? ST_SIGN
                : c == '.'             ? ST_DOT
                                       : ST_INVALID;
            break;
        case ST_SIGN:
            s = is_digit(c) ? ST_INT : c == '.' ? ST_DOT : ST_INVALID;
            break;
        case ST_INT:
            s = is_digit(c)            ? ST_INT
                : c == '.'             ? ST_FLOAT
                : c == 'e' || c == 'E' ? ST_EXP
                                       : ST_INVALID;
            break;
        case ST_DOT:
            s = is_digit(c) ? ST_FLOAT : ST_INVALID;
            break;
        case ST_FLOAT:
            s = is_digit(c)            ? ST_FLOAT
                : c == 'e' || c == 'E' ? ST_EXP
                                       : ST_INVALID;
            break;
        case ST_EXP:
            s = is_digit(c)            ? ST_SCIENTIFIC
                : c == '+' || c == '-' ? ST_EXP_SIGN
                                       : ST_INVALID;
            break;
        case ST_EXP_SIGN:
        case ST_SCIENTIFIC:
            s = is_digit(c) ? ST_SCIENTIFIC : ST_INVALID;
            break;
        case ST_INVALID:
        default:
            break;
        }
        if (s != old) {
            (*transitions)++;
        }
    }
    if (**p == ',') {
        (*p)++;
    }
    return s;
}

static char state_buf[STATE_BUF + 1];

static uint16_t state_bench(uint32_t seed, uint16_t crc)
{
    static const char *const tokens[] = {
        "5012",     "1234",     "-874",     "+122",     "35.54",    "-.123",
        "0.0001",   "-110.700", "5.500e+3", "-.123e-2", "-87e+832", "+0.6e-12",
        "T0.3e-1F", "-T.T++Tq", "1T3.4e4z", "34.0e-T^",
    };
    unsigned counts[ST_COUNT] = {0};
    unsigned transitions = 0;
    uint32_t rng = seed;
    size_t used = 0;
    const char *p;
    int pass, i;

    while (used < STATE_BUF - 12) {
        const char *t = tokens[next_random(&rng) % 16];
        size_t len = strlen(t);

        memcpy(state_buf + used, t, len);
        used += len;
        state_buf[used++] = ',';
    }
    state_buf[used] = '\0';

    for (pass = 0; pass < 2; pass++) {
        for (p = state_buf; *p != '\0';) {
            counts[next_state(&p, &transitions)]++;
        }
        /* Corrupt every 7th byte for the second pass. */
        for (i = (int)(seed % 7); i < (int)used; i += 7) {
            if (state_buf[i] != ',') {
                state_buf[i] = (char)(state_buf[i] ^ 0x01);
            }
        }
    }
    for (i = 0; i < ST_COUNT; i++) {
        crc = crc16((uint16_t)counts[i], crc);
    }
    return crc16((uint16_t)transitions, crc);
}

int main(void)
{
    uint16_t crc = 0, list_crc = 0, matrix_crc_v = 0, state_crc = 0;
    uint32_t i;

    for (i = 0; i < ITERATIONS; i++) {
        list_crc = list_bench(i * 2654435761u, list_crc);
        matrix_crc_v = matrix_bench(i * 40503u + 7, matrix_crc_v);
        state_crc = state_bench(i * 97u + 3, state_crc);
        crc = crc32v((uint32_t)list_crc << 16 | matrix_crc_v, crc);
        crc = crc16(state_crc, crc);
    }
    rt_printf("coremark-like: %d iterations, list crc %04x, matrix crc "
              "%04x, state crc %04x, final crc %04x\n",
              ITERATIONS, list_crc, matrix_crc_v, state_crc, crc);
    return 0;
}
