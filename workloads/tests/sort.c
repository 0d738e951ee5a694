/*
 * sort.c: sorting algorithms on pseudo-random data.
 *
 * Insertion, shell, heap, merge, quick, LSD radix and counting sort, plus a
 * generic comparator-driven sort of records and a sort of strings.  Each
 * result is checked for order and printed as a checksum, so the output
 * depends on every element and on the algorithms agreeing.
 */
#include "rt.h"

#define SORT_N 3000
#define SORT_SMALL_N 400
#define SORT_RECORDS 500
#define SORT_STRINGS 300
#define SORT_STRING_LEN 12

struct sort_record {
    uint32_t key;
    int16_t tag;
    char name[6];
};

static uint64_t sort_rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: deterministic, the same on guest and host. */
static uint64_t sort_random(void)
{
    uint64_t x = sort_rng_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sort_rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t data_u64[SORT_N];
static uint64_t work_u64[SORT_N];
static uint64_t temp_u64[SORT_N];
static int32_t work_i32[SORT_N];
static struct sort_record records[SORT_RECORDS];
static char strings[SORT_STRINGS][SORT_STRING_LEN];
static const char *string_ptrs[SORT_STRINGS];

/* FNV-1a over the values, order-sensitive. */
static uint64_t checksum_u64(const uint64_t *a, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ a[i]) * 0x100000001b3ull;
    }
    return h;
}

static bool sorted_u64(const uint64_t *a, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++) {
        if (a[i - 1] > a[i]) {
            return false;
        }
    }
    return true;
}

static void insertion_sort(uint64_t *a, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        uint64_t v = a[i];

        for (j = i; j > 0 && a[j - 1] > v; j--) {
            a[j] = a[j - 1];
        }
        a[j] = v;
    }
}

static void shell_sort(uint64_t *a, size_t n)
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    size_t g, i, j;

    for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        size_t gap = gaps[g];

        for (i = gap; i < n; i++) {
            uint64_t v = a[i];

            for (j = i; j >= gap && a[j - gap] > v; j -= gap) {
                a[j] = a[j - gap];
            }
            a[j] = v;
        }
    }
}

static void sift_down(uint64_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        uint64_t t;

        if (child >= n) {
            return;
        }
        if (child + 1 < n && a[child + 1] > a[child]) {
            child++;
        }
        if (a[root] >= a[child]) {
            return;
        }
        t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(uint64_t *a, size_t n)
{
    size_t i;

    for (i = n / 2; i-- > 0;) {
        sift_down(a, i, n);
    }
    for (i = n; i-- > 1;) {
        uint64_t t = a[0];

        a[0] = a[i];
        a[i] = t;
        sift_down(a, 0, i);
    }
}

static void merge_sort_rec(uint64_t *a, uint64_t *tmp, size_t lo, size_t hi)
{
    size_t mid, i, j, k;

    if (hi - lo < 2) {
        return;
    }
    mid = lo + (hi - lo) / 2;
    merge_sort_rec(a, tmp, lo, mid);
    merge_sort_rec(a, tmp, mid, hi);
    i = lo;
    j = mid;
    k = lo;
    while (i < mid && j < hi) {
        tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
    }
    while (i < mid) {
        tmp[k++] = a[i++];
    }
    while (j < hi) {
        tmp[k++] = a[j++];
    }
    for (k = lo; k < hi; k++) {
        a[k] = tmp[k];
    }
}

static void quick_sort(uint64_t *a, long lo, long hi)
{
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        uint64_t pivot;
        long i = lo - 1;
        long j = hi + 1;

        /* Median of three, then Hoare partition. */
        if (a[mid] < a[lo]) {
            uint64_t t = a[mid];
            a[mid] = a[lo];
            a[lo] = t;
        }
        if (a[hi] < a[lo]) {
            uint64_t t = a[hi];
            a[hi] = a[lo];
            a[lo] = t;
        }
        if (a[hi] < a[mid]) {
            uint64_t t = a[hi];
            a[hi] = a[mid];
            a[mid] = t;
        }
        pivot = a[mid];
        for (;;) {
            uint64_t t;

            do {
                i++;
            } while (a[i] < pivot);
            do {
                j--;
            } while (a[j] > pivot);
            if (i >= j) {
                break;
            }
            t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        /* Recurse into the smaller half, loop on the larger. */
        if (j - lo < hi - j) {
            quick_sort(a, lo, j);
            lo = j + 1;
        } else {
            quick_sort(a, j + 1, hi);
            hi = j;
        }
    }
}

static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
    size_t count[256];
    unsigned shift;
    size_t i;

    for (shift = 0; shift < 64; shift += 8) {
        size_t sum = 0;

        memset(count, 0, sizeof(count));
        for (i = 0; i < n; i++) {
            count[(a[i] >> shift) & 0xff]++;
        }
        for (i = 0; i < 256; i++) {
            size_t c = count[i];

            count[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++) {
            tmp[count[(a[i] >> shift) & 0xff]++] = a[i];
        }
        memcpy(a, tmp, n * sizeof(*a));
    }
}

/* Sorts signed 32-bit values in [-1000, 1000] by counting. */
static void counting_sort_i32(int32_t *a, size_t n)
{
    static uint16_t count[2001];
    size_t i, k = 0;
    int v;

    memset(count, 0, sizeof(count));
    for (i = 0; i < n; i++) {
        count[a[i] + 1000]++;
    }
    for (v = -1000; v <= 1000; v++) {
        for (i = 0; i < count[v + 1000]; i++) {
            a[k++] = v;
        }
    }
}

typedef int (*sort_compare_fn)(const void *a, const void *b);

/* A stable insertion sort of any element type, by comparator. */
static void generic_sort(void *base, size_t n, size_t size,
                         sort_compare_fn compare)
{
    unsigned char *b = base;
    unsigned char tmp[32];
    size_t i, j;

    for (i = 1; i < n; i++) {
        memcpy(tmp, b + i * size, size);
        for (j = i; j > 0 && compare(b + (j - 1) * size, tmp) > 0; j--) {
            memcpy(b + j * size, b + (j - 1) * size, size);
        }
        memcpy(b + j * size, tmp, size);
    }
}

static int compare_record(const void *a, const void *b)
{
    const struct sort_record *ra = a;
    const struct sort_record *rb = b;

    if (ra->key != rb->key) {
        return ra->key < rb->key ? -1 : 1;
    }
    return ra->tag - rb->tag;
}

static int compare_string_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void report(const char *name, const uint64_t *a, size_t n)
{
    rt_printf("%-10s n=%4zu sorted=%d min=%016llx max=%016llx sum=%016llx\n",
              name, n, sorted_u64(a, n), (unsigned long long)a[0],
              (unsigned long long)a[n - 1],
              (unsigned long long)checksum_u64(a, n));
}

static void reset_work(size_t n)
{
    memcpy(work_u64, data_u64, n * sizeof(work_u64[0]));
}

int main(void)
{
    uint64_t h;
    size_t i;
    bool ok;

    for (i = 0; i < SORT_N; i++) {
        data_u64[i] = sort_random();
    }
    /* Some duplicates and runs make the partitioning work. */
    for (i = 0; i < SORT_N; i += 7) {
        data_u64[i] = data_u64[i / 2];
    }

    reset_work(SORT_SMALL_N);
    insertion_sort(work_u64, SORT_SMALL_N);
    report("insertion", work_u64, SORT_SMALL_N);

    reset_work(SORT_N);
    shell_sort(work_u64, SORT_N);
    report("shell", work_u64, SORT_N);

    reset_work(SORT_N);
    heap_sort(work_u64, SORT_N);
    report("heap", work_u64, SORT_N);

    reset_work(SORT_N);
    merge_sort_rec(work_u64, temp_u64, 0, SORT_N);
    report("merge", work_u64, SORT_N);

    reset_work(SORT_N);
    quick_sort(work_u64, 0, SORT_N - 1);
    report("quick", work_u64, SORT_N);

    reset_work(SORT_N);
    radix_sort(work_u64, temp_u64, SORT_N);
    report("radix", work_u64, SORT_N);

    /* Already sorted and reversed inputs. */
    quick_sort(work_u64, 0, SORT_N - 1);
    report("quick-sorted", work_u64, SORT_N);
    for (i = 0; i < SORT_N / 2; i++) {
        uint64_t t = work_u64[i];

        work_u64[i] = work_u64[SORT_N - 1 - i];
        work_u64[SORT_N - 1 - i] = t;
    }
    heap_sort(work_u64, SORT_N);
    report("heap-rev", work_u64, SORT_N);

    for (i = 0; i < SORT_N; i++) {
        work_i32[i] = (int32_t)(sort_random() % 2001) - 1000;
    }
    counting_sort_i32(work_i32, SORT_N);
    ok = true;
    h = 0;
    for (i = 0; i < SORT_N; i++) {
        if (i > 0 && work_i32[i - 1] > work_i32[i]) {
            ok = false;
        }
        h = h * 31 + (uint32_t)work_i32[i];
    }
    rt_printf("%-10s n=%4d sorted=%d min=%d max=%d sum=%016llx\n", "counting",
              SORT_N, ok, work_i32[0], work_i32[SORT_N - 1],
              (unsigned long long)h);

    for (i = 0; i < SORT_RECORDS; i++) {
        uint64_t r = sort_random();

        records[i].key = (uint32_t)(r % 50);
        records[i].tag = (int16_t)i;
        rt_snprintf(records[i].name, sizeof(records[i].name), "r%u",
                    (unsigned)(r >> 40) % 1000);
    }
    generic_sort(records, SORT_RECORDS, sizeof(records[0]), compare_record);
    ok = true;
    h = 0;
    for (i = 0; i < SORT_RECORDS; i++) {
        if (i > 0 && compare_record(&records[i - 1], &records[i]) > 0) {
            ok = false;
        }
        h = h * 131 + records[i].key * 7 + (uint16_t)records[i].tag +
            (unsigned char)records[i].name[1];
    }
    rt_printf("%-10s n=%4d sorted=%d first=%u/%d/%s last=%u/%d/%s "
              "sum=%016llx\n",
              "records", SORT_RECORDS, ok, records[0].key, records[0].tag,
              records[0].name, records[SORT_RECORDS - 1].key,
              records[SORT_RECORDS - 1].tag, records[SORT_RECORDS - 1].name,
              (unsigned long long)h);

    for (i = 0; i < SORT_STRINGS; i++) {
        uint64_t r = sort_random();
        size_t len = 3 + r % (SORT_STRING_LEN - 4);
        size_t k;

        for (k = 0; k < len; k++) {
            strings[i][k] = (char)('a' + (r >> (8 + 2 * k)) % 4);
        }
        strings[i][len] = '\0';
        string_ptrs[i] = strings[i];
    }
    generic_sort(string_ptrs, SORT_STRINGS, sizeof(string_ptrs[0]),
                 compare_string_ptr);
    ok = true;
    for (i = 1; i < SORT_STRINGS; i++) {
        if (strcmp(string_ptrs[i - 1], string_ptrs[i]) > 0) {
            ok = false;
        }
    }
    rt_printf("%-10s n=%4d sorted=%d first=%s mid=%s last=%s\n", "strings",
              SORT_STRINGS, ok, string_ptrs[0], string_ptrs[SORT_STRINGS / 2],
              string_ptrs[SORT_STRINGS - 1]);
    return 0;
}
