/*
 * tests/cpu/test-vmcs.c: unit tests of cpu/vmx-vmcs.c, the VMCS model.
 * First against the fact sheet (/work/shared/spec/vmx.md, read at run time
 * from ../shared/spec/vmx.md relative to the repository root where `make
 * check` runs): every field encoding of §2, every exit reason of §7, the
 * default-1 bits of §3 and the control bits of §4-§6 must match our
 * tables, in both directions; hard-coded spot checks keep the suite
 * meaningful when the fact sheet is absent.  Then VMREAD/VMWRITE
 * semantics, the capability MSRs, the checks on the controls and on the
 * guest state, and the `iovsim vmcs` listing.
 */
#include "sim/common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <glib.h>

#include "cpu/cpu.h"
#include "cpu/vmx-internal.h"
#include "mmu/mmu.h"

#define SPEC_PATH "../shared/spec/vmx.md"

/* Our tables, expanded again from the .def files. */
static const struct {
    uint32_t enc;
    const char *name;
} our_fields[] = {
#define VMCS_FIELD(name, enc, desc) {(enc), #name},
#include "cpu/vmcs.def"
#undef VMCS_FIELD
};

static const struct {
    unsigned num;
    const char *name;
    unsigned flags;
} our_exits[] = {
#define VMX_EXIT(name, num, desc, flags) {(num), #name, (flags)},
#include "cpu/vmexit.def"
#undef VMX_EXIT
};

/* ---- Reading the fact sheet -------------------------------------------- */

/* The fact sheet's lines, or NULL (after saying so) when it is absent. */
static gchar **spec_lines(void)
{
    gchar *text = NULL;
    gchar **lines;

    if (!g_file_get_contents(SPEC_PATH, &text, NULL, NULL)) {
        printf("\n    fact sheet %s is absent: its checks are skipped\n",
               SPEC_PATH);
        return NULL;
    }
    lines = g_strsplit(text, "\n", -1);
    g_free(text);
    return lines;
}

/*
 * Walks the fact sheet keeping the current "## n." section number and
 * "### " sub-heading; calls @fn for every table row that is not a header
 * or separator, with its stripped cells.
 */
typedef void spec_row_fn(int section, const char *sub, gchar **cells,
                         guint ncells, void *opaque);

static void spec_rows(gchar **lines, spec_row_fn *fn, void *opaque)
{
    int section = 0;
    const char *sub = "";

    for (guint i = 0; lines[i] != NULL; i++) {
        const char *l = lines[i];
        gchar **cells;
        guint n;

        if (g_str_has_prefix(l, "## ")) {
            section = atoi(l + 3);
            sub = "";
            continue;
        }
        if (g_str_has_prefix(l, "### ")) {
            sub = l + 4;
            continue;
        }
        if (l[0] != '|' || g_str_has_prefix(l, "|---")) {
            continue;
        }
        cells = g_strsplit(l + 1, "|", -1);
        n = g_strv_length(cells);
        if (n > 0 && g_strstrip(cells[n - 1])[0] == '\0') {
            g_free(cells[n - 1]);
            cells[--n] = NULL;
        }
        for (guint c = 0; c < n; c++) {
            g_strstrip(cells[c]);
        }
        /* The header row of every table names its columns. */
        if (n >= 2 && strcmp(cells[0], "field") != 0 &&
            strcmp(cells[0], "bit") != 0 && strcmp(cells[0], "bits") != 0 &&
            strcmp(cells[0], "#") != 0 && strcmp(cells[0], "MSR") != 0 &&
            strcmp(cells[0], "bit(s)") != 0) {
            fn(section, sub, cells, n, opaque);
        }
        g_strfreev(cells);
    }
}

/* Every 0x... number in @s. */
static GArray *hex_numbers(const char *s)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(uint32_t));

    while ((s = strstr(s, "0x")) != NULL) {
        char *end;
        uint32_t v = (uint32_t)strtoul(s, &end, 16);

        g_array_append_val(a, v);
        s = end;
    }
    return a;
}

/*
 * Words of @s, lower case, split at anything not alphanumeric and between
 * letters and digits ("CR0" -> "cr", "0"); "I/O" is one word, "io".
 */
static GPtrArray *words(const char *s)
{
    GPtrArray *w = g_ptr_array_new_with_free_func(g_free);
    gchar *t = g_ascii_strdown(s, -1);
    GString *cur = g_string_new(NULL);
    gchar *p;

    while ((p = strstr(t, "i/o")) != NULL) {
        memmove(p + 2, p + 3, strlen(p + 3) + 1);
        p[1] = 'o';
    }
    for (p = t;; p++) {
        bool alnum = g_ascii_isalnum(*p);
        bool split = cur->len > 0 &&
                     (!alnum || (g_ascii_isdigit(*p) !=
                                 g_ascii_isdigit(cur->str[cur->len - 1])));

        if (split) {
            g_ptr_array_add(w, g_strdup(cur->str));
            g_string_truncate(cur, 0);
        }
        if (*p == '\0') {
            break;
        }
        if (alnum) {
            g_string_append_c(cur, *p);
        }
    }
    g_string_free(cur, TRUE);
    g_free(t);
    return w;
}

/* Our abbreviations, in the fact sheet's words. */
static const char *unabbreviate(const char *tok)
{
    static const char *const alias[][2] = {
        {"intr", "interrupt"}, {"nv", "notification"}, {"ar", "access"},
        {"dbg", "debug"},      {"ctls", "controls"},
    };

    for (size_t i = 0; i < SIM_ARRAY_SIZE(alias); i++) {
        if (strcmp(tok, alias[i][0]) == 0) {
            return alias[i][1];
        }
    }
    return tok;
}

/* Our name's word @tok stands for the fact sheet's word @w: equal, or
 * (three letters or more) a prefix of it: "addr" for "address". */
static bool word_matches(const char *tok, const char *w)
{
    tok = unabbreviate(tok);
    if (strcmp(tok, w) == 0) {
        return true;
    }
    return strlen(tok) >= 3 && !g_ascii_isdigit(tok[0]) &&
           g_str_has_prefix(w, tok);
}

static bool any_word_matches(GPtrArray *toks, const char *w)
{
    for (guint i = 0; i < toks->len; i++) {
        if (word_matches(toks->pdata[i], w)) {
            return true;
        }
    }
    return false;
}

static bool has_word(GPtrArray *ws, const char *w)
{
    for (guint i = 0; i < ws->len; i++) {
        if (strcmp(ws->pdata[i], w) == 0) {
            return true;
        }
    }
    return false;
}

/* Every word of our @name (digits aside) appears in @text. */
static bool name_fits_text(const char *name, const char *text)
{
    GPtrArray *toks = words(name);
    GPtrArray *ws = words(text);
    bool ok = true;

    for (guint i = 0; i < toks->len && ok; i++) {
        const char *t = toks->pdata[i];
        bool found = g_ascii_isdigit(t[0]);

        for (guint j = 0; j < ws->len && !found; j++) {
            found = word_matches(t, ws->pdata[j]);
        }
        ok = found;
    }
    g_ptr_array_unref(toks);
    g_ptr_array_unref(ws);
    return ok;
}

static const char *our_field_name(uint32_t enc)
{
    for (size_t i = 0; i < SIM_ARRAY_SIZE(our_fields); i++) {
        if (our_fields[i].enc == enc) {
            return our_fields[i].name;
        }
    }
    return NULL;
}

/*
 * A row listing several fields ("Guest ES / CS / SS ... selector" with six
 * encodings): the k-th part must name the k-th field.  Some word that only
 * part k has must match our k-th name and none of the others.  Ranges
 * ("Guest PDPTE0..3") map by the trailing digit.
 */
static bool names_fit_parts(const char *text, GArray *encs)
{
    gchar **parts = g_strsplit(text, " / ", -1);
    guint n = g_strv_length(parts);
    bool ok = true;

    if (n != encs->len) {
        ok = strstr(text, "..") != NULL;
        for (guint k = 0; k < encs->len && ok; k++) {
            const char *nm = our_field_name(g_array_index(encs, uint32_t, k));

            ok = nm != NULL && nm[strlen(nm) - 1] == (char)('0' + k);
        }
        g_strfreev(parts);
        return ok;
    }
    for (guint k = 0; k < n && ok; k++) {
        GPtrArray *mine = words(parts[k]);
        GPtrArray *toks =
            words(our_field_name(g_array_index(encs, uint32_t, k)));
        bool found = false;

        for (guint i = 0; i < mine->len && !found; i++) {
            const char *w = mine->pdata[i];
            bool distinct = any_word_matches(toks, w);

            for (guint j = 0; j < n && distinct; j++) {
                GPtrArray *other;
                GPtrArray *otoks;

                if (j == k) {
                    continue;
                }
                other = words(parts[j]);
                otoks = words(our_field_name(g_array_index(encs, uint32_t, j)));
                distinct = !has_word(other, w) && !any_word_matches(otoks, w);
                g_ptr_array_unref(other);
                g_ptr_array_unref(otoks);
            }
            found = distinct;
        }
        ok = found;
        g_ptr_array_unref(mine);
        g_ptr_array_unref(toks);
    }
    g_strfreev(parts);
    return ok;
}

/* ---- (a) Against the fact sheet ---------------------------------------- */

struct field_scan {
    GHashTable *seen; /* encodings the fact sheet lists */
    unsigned rows;
};

static void field_row(int section, const char *sub, gchar **cells, guint ncells,
                      void *opaque)
{
    struct field_scan *scan = opaque;
    unsigned width;
    GArray *encs;
    bool ro;

    if (section != 2) {
        return;
    }
    if (g_str_has_prefix(sub, "16-bit")) {
        width = VMX_WIDTH_16;
    } else if (g_str_has_prefix(sub, "64-bit")) {
        width = VMX_WIDTH_64;
    } else if (g_str_has_prefix(sub, "32-bit")) {
        width = VMX_WIDTH_32;
    } else if (g_str_has_prefix(sub, "Natural")) {
        width = VMX_WIDTH_NATURAL;
    } else {
        return; /* access rights, interruptibility: not encodings */
    }
    scan->rows++;
    encs = hex_numbers(cells[1]);
    ro = strstr(cells[0], "(RO") != NULL ||
         strstr(cells[0], "read-only") != NULL;
    CU_ASSERT(encs->len > 0);
    for (guint k = 0; k < encs->len; k++) {
        uint32_t enc = g_array_index(encs, uint32_t, k);
        const char *nm = our_field_name(enc);

        g_hash_table_add(scan->seen, GUINT_TO_POINTER(enc));
        if (nm == NULL || VMX_ENC_WIDTH(enc) != width ||
            (VMX_ENC_TYPE(enc) == VMX_TYPE_EXIT_INFO) != ro ||
            !name_fits_text(nm, cells[0])) {
            printf("\n    §2 \"%s\" 0x%04x: ours is %s\n", cells[0], enc,
                   nm != NULL ? nm : "missing");
            CU_FAIL("§2 field missing, misnamed, wrong width or type");
        }
        CU_ASSERT_EQUAL(vmx_field_lookup(enc) >= 0, nm != NULL);
    }
    if (encs->len > 1 && !names_fit_parts(cells[0], encs)) {
        printf("\n    §2 \"%s\": our names are not in its order\n", cells[0]);
        CU_FAIL("§2 fields of one row named out of order");
    }
    g_array_unref(encs);
}

static void test_spec_fields(void)
{
    gchar **lines = spec_lines();
    struct field_scan scan = {g_hash_table_new(NULL, NULL), 0};

    if (lines != NULL) {
        spec_rows(lines, field_row, &scan);
        CU_ASSERT(scan.rows > 50);
        for (size_t i = 0; i < SIM_ARRAY_SIZE(our_fields); i++) {
            if (!g_hash_table_contains(scan.seen,
                                       GUINT_TO_POINTER(our_fields[i].enc))) {
                printf("\n    %s 0x%04x is not in §2\n", our_fields[i].name,
                       our_fields[i].enc);
                CU_FAIL("vmcs.def has a field the fact sheet lacks");
            }
        }
        CU_ASSERT_EQUAL(g_hash_table_size(scan.seen),
                        SIM_ARRAY_SIZE(our_fields));
        g_strfreev(lines);
    }
    g_hash_table_unref(scan.seen);
}

/* Our exit names in the fact sheet's words, where they differ. */
static const char *exit_words(const char *name)
{
    static const char *const alias[][2] = {
        {"DR_ACCESS", "MOV DR"},
        {"PML_FULL", "page-modification log full"},
    };

    for (size_t i = 0; i < SIM_ARRAY_SIZE(alias); i++) {
        if (strcmp(name, alias[i][0]) == 0) {
            return alias[i][1];
        }
    }
    return name;
}

struct exit_scan {
    GHashTable *seen;   /* numbers the fact sheet gives a cause */
    GHashTable *unused; /* numbers it marks not used */
    unsigned lo, hi;    /* its unverified range, if any */
};

static int our_exit(unsigned num)
{
    for (size_t i = 0; i < SIM_ARRAY_SIZE(our_exits); i++) {
        if (our_exits[i].num == num) {
            return (int)i;
        }
    }
    return -1;
}

static void exit_row(int section, const char *sub, gchar **cells, guint ncells,
                     void *opaque)
{
    struct exit_scan *scan = opaque;
    char *end;
    unsigned num;
    int i;

    if (section != 7 || !g_str_has_prefix(sub, "Basic exit reasons")) {
        return;
    }
    num = (unsigned)strtoul(cells[0], &end, 10);
    if (*end != '\0') {
        /* "78–85 | ... unverified": a range (en dash or hyphen). */
        if (strstr(cells[1], "unverified") != NULL) {
            scan->lo = num;
            while (*end != '\0' && !isdigit((unsigned char)*end)) {
                end++;
            }
            scan->hi = (unsigned)strtoul(end, NULL, 10);
        } else {
            printf("\n    §7 row \"%s\" not understood\n", cells[0]);
            CU_FAIL("§7 row not understood");
        }
        return;
    }
    i = our_exit(num);
    if (strstr(cells[1], "not used") != NULL) {
        g_hash_table_add(scan->unused, GUINT_TO_POINTER(num));
        CU_ASSERT_EQUAL(i, -1);
        return;
    }
    g_hash_table_add(scan->seen, GUINT_TO_POINTER(num));
    if (i < 0 || !name_fits_text(exit_words(our_exits[i].name), cells[1])) {
        printf("\n    §7 %u \"%s\": ours is %s\n", num, cells[1],
               i < 0 ? "missing" : our_exits[i].name);
        CU_FAIL("§7 exit reason missing or misnamed");
    } else {
        CU_ASSERT_EQUAL(our_exits[i].flags & VMX_EXIT_F_UNVERIFIED, 0);
    }
}

static void test_spec_exits(void)
{
    gchar **lines = spec_lines();
    struct exit_scan scan = {g_hash_table_new(NULL, NULL),
                             g_hash_table_new(NULL, NULL), 1, 0};

    if (lines != NULL) {
        spec_rows(lines, exit_row, &scan);
        CU_ASSERT(g_hash_table_size(scan.seen) >= 70);
        CU_ASSERT_EQUAL(scan.lo, 78);
        CU_ASSERT_EQUAL(scan.hi, 85);
        for (size_t i = 0; i < SIM_ARRAY_SIZE(our_exits); i++) {
            unsigned n = our_exits[i].num;
            bool listed = g_hash_table_contains(scan.seen, GUINT_TO_POINTER(n));
            bool in_range =
                n >= scan.lo && n <= scan.hi &&
                !g_hash_table_contains(scan.unused, GUINT_TO_POINTER(n));

            if (!listed && !in_range) {
                printf("\n    exit %u %s is not in §7\n", n, our_exits[i].name);
                CU_FAIL("vmexit.def has an exit the fact sheet lacks");
            }
            /* Rows from the unverified range must say so. */
            CU_ASSERT_EQUAL(in_range && !listed,
                            (our_exits[i].flags & VMX_EXIT_F_UNVERIFIED) != 0);
        }
        g_strfreev(lines);
    }
    g_hash_table_unref(scan.seen);
    g_hash_table_unref(scan.unused);
}

/* Bits listed as "1, 4–6, 8" (en dash or hyphen for ranges). */
static uint32_t parse_bit_list(const char *s)
{
    uint32_t bits = 0;

    while (*s != '\0') {
        if (isdigit((unsigned char)*s)) {
            char *end;
            unsigned lo = (unsigned)strtoul(s, &end, 10);
            unsigned hi = lo;

            if (g_str_has_prefix(end, "\xe2\x80\x93") || *end == '-') {
                end += *end == '-' ? 1 : 3;
                hi = (unsigned)strtoul(end, &end, 10);
            }
            for (unsigned b = lo; b <= hi && b < 32; b++) {
                bits |= 1u << b;
            }
            s = end;
        } else {
            s++;
        }
    }
    return bits;
}

static void test_spec_default1(void)
{
    static const struct {
        const char *label;
        uint32_t msr;
        uint32_t ours;
    } ctls[4] = {
        {"pin-based", VMX_MSR_PINBASED_CTLS, VMX_PIN_DEFAULT1},
        {"primary processor-based", VMX_MSR_PROCBASED_CTLS, VMX_PROC_DEFAULT1},
        {"exit controls", VMX_MSR_EXIT_CTLS, VMX_EXIT_CTL_DEFAULT1},
        {"entry controls", VMX_MSR_ENTRY_CTLS, VMX_ENTRY_CTL_DEFAULT1},
    };
    gchar **lines = spec_lines();
    gchar *all, *start, *stop;
    gchar **parts;

    if (lines == NULL) {
        return;
    }
    all = g_strjoinv(" ", lines);
    start = strstr(all, "default to 1 in the non-TRUE MSRs:");
    CU_ASSERT_PTR_NOT_NULL_FATAL(start);
    start = strchr(start, ':') + 1;
    stop = strchr(start, '.');
    CU_ASSERT_PTR_NOT_NULL_FATAL(stop);
    *stop = '\0';
    parts = g_strsplit(start, ";", -1);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(parts), 4);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t v = 0;

        CU_ASSERT_PTR_NOT_NULL(strstr(parts[i], ctls[i].label));
        CU_ASSERT_EQUAL(parse_bit_list(parts[i]), ctls[i].ours);
        CU_ASSERT(vmx_capability_msr(ctls[i].msr, &v));
        CU_ASSERT_EQUAL((uint32_t)v, parse_bit_list(parts[i]));
    }
    g_strfreev(parts);
    g_free(all);
    g_strfreev(lines);
}

/* Our control macros, with a word of the fact sheet's name for each. */
static const struct {
    char group; /* P pin, 1 primary, 2 secondary, X exit, N entry */
    uint32_t bit;
    const char *word;
} our_ctls[] = {
    {'P', VMX_PIN_EXT_INTR_EXITING, "external-interrupt"},
    {'P', VMX_PIN_NMI_EXITING, "nmi exiting"},
    {'P', VMX_PIN_VIRTUAL_NMIS, "virtual nmis"},
    {'P', VMX_PIN_PREEMPTION_TIMER, "preemption timer"},
    {'P', VMX_PIN_POSTED_INTR, "posted interrupts"},
    {'1', VMX_PROC_INTR_WINDOW_EXITING, "interrupt-window"},
    {'1', VMX_PROC_USE_TSC_OFFSETTING, "tsc offsetting"},
    {'1', VMX_PROC_HLT_EXITING, "hlt"},
    {'1', VMX_PROC_INVLPG_EXITING, "invlpg"},
    {'1', VMX_PROC_MWAIT_EXITING, "mwait"},
    {'1', VMX_PROC_RDPMC_EXITING, "rdpmc"},
    {'1', VMX_PROC_RDTSC_EXITING, "rdtsc"},
    {'1', VMX_PROC_CR3_LOAD_EXITING, "cr3-load"},
    {'1', VMX_PROC_CR3_STORE_EXITING, "cr3-store"},
    {'1', VMX_PROC_ACTIVATE_TERTIARY, "tertiary"},
    {'1', VMX_PROC_CR8_LOAD_EXITING, "cr8-load"},
    {'1', VMX_PROC_CR8_STORE_EXITING, "cr8-store"},
    {'1', VMX_PROC_USE_TPR_SHADOW, "tpr shadow"},
    {'1', VMX_PROC_NMI_WINDOW_EXITING, "nmi-window"},
    {'1', VMX_PROC_MOV_DR_EXITING, "mov-dr"},
    {'1', VMX_PROC_UNCOND_IO_EXITING, "unconditional i/o"},
    {'1', VMX_PROC_USE_IO_BITMAPS, "i/o bitmaps"},
    {'1', VMX_PROC_MONITOR_TRAP_FLAG, "monitor trap flag"},
    {'1', VMX_PROC_USE_MSR_BITMAPS, "msr bitmaps"},
    {'1', VMX_PROC_MONITOR_EXITING, "monitor exiting"},
    {'1', VMX_PROC_PAUSE_EXITING, "pause"},
    {'1', VMX_PROC_ACTIVATE_SECONDARY, "secondary"},
    {'2', VMX_PROC2_VIRT_APIC_ACCESSES, "virtualize apic accesses"},
    {'2', VMX_PROC2_ENABLE_EPT, "enable ept"},
    {'2', VMX_PROC2_DESC_TABLE_EXITING, "descriptor-table"},
    {'2', VMX_PROC2_ENABLE_RDTSCP, "rdtscp"},
    {'2', VMX_PROC2_VIRT_X2APIC_MODE, "x2apic"},
    {'2', VMX_PROC2_ENABLE_VPID, "vpid"},
    {'2', VMX_PROC2_WBINVD_EXITING, "wbinvd"},
    {'2', VMX_PROC2_UNRESTRICTED_GUEST, "unrestricted"},
    {'2', VMX_PROC2_APIC_REGISTER_VIRT, "apic-register"},
    {'2', VMX_PROC2_VIRT_INTR_DELIVERY, "virtual-interrupt delivery"},
    {'2', VMX_PROC2_PAUSE_LOOP_EXITING, "pause-loop"},
    {'2', VMX_PROC2_RDRAND_EXITING, "rdrand"},
    {'2', VMX_PROC2_ENABLE_INVPCID, "invpcid"},
    {'2', VMX_PROC2_ENABLE_VMFUNC, "vm functions"},
    {'2', VMX_PROC2_VMCS_SHADOWING, "vmcs shadowing"},
    {'2', VMX_PROC2_ENCLS_EXITING, "encls"},
    {'2', VMX_PROC2_RDSEED_EXITING, "rdseed"},
    {'2', VMX_PROC2_ENABLE_PML, "pml"},
    {'2', VMX_PROC2_EPT_VIOLATION_VE, "#ve"},
    {'2', VMX_PROC2_CONCEAL_VMX_FROM_PT, "conceal vmx"},
    {'2', VMX_PROC2_ENABLE_XSAVES, "xsaves"},
    {'2', VMX_PROC2_MODE_BASED_EPT_EXEC, "mode-based"},
    {'2', VMX_PROC2_SUBPAGE_WRITE_PERM, "sub-page"},
    {'2', VMX_PROC2_PT_USE_GPA, "guest-physical"},
    {'2', VMX_PROC2_USE_TSC_SCALING, "tsc scaling"},
    {'2', VMX_PROC2_ENABLE_USER_WAIT_PAUSE, "user wait"},
    {'2', VMX_PROC2_ENABLE_PCONFIG, "pconfig"},
    {'2', VMX_PROC2_ENABLE_ENCLV_EXITING, "enclv"},
    {'2', VMX_PROC2_BUS_LOCK_DETECTION, "bus-lock"},
    {'2', VMX_PROC2_INSTRUCTION_TIMEOUT, "instruction timeout"},
    {'X', VMX_EXIT_CTL_SAVE_DEBUG_CTLS, "save debug"},
    {'X', VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE, "host address-space size"},
    {'X', VMX_EXIT_CTL_LOAD_PERF_GLOBAL_CTRL, "perf_global_ctrl"},
    {'X', VMX_EXIT_CTL_ACK_INTR_ON_EXIT, "acknowledge interrupt"},
    {'X', VMX_EXIT_CTL_SAVE_PAT, "ia32_pat"},
    {'X', VMX_EXIT_CTL_LOAD_PAT, "ia32_pat"},
    {'X', VMX_EXIT_CTL_SAVE_EFER, "ia32_efer"},
    {'X', VMX_EXIT_CTL_LOAD_EFER, "ia32_efer"},
    {'X', VMX_EXIT_CTL_SAVE_PREEMPTION_TIMER, "preemption timer"},
    {'X', VMX_EXIT_CTL_CLEAR_BNDCFGS, "bndcfgs"},
    {'X', VMX_EXIT_CTL_CONCEAL_VMX_FROM_PT, "conceal vmx"},
    {'X', VMX_EXIT_CTL_LOAD_CET_STATE, "cet"},
    {'X', VMX_EXIT_CTL_LOAD_PKRS, "pkrs"},
    {'X', VMX_EXIT_CTL_ACTIVATE_SECONDARY, "secondary"},
    {'N', VMX_ENTRY_CTL_LOAD_DEBUG_CTLS, "load debug"},
    {'N', VMX_ENTRY_CTL_IA32E_MODE_GUEST, "ia-32e mode guest"},
    {'N', VMX_ENTRY_CTL_ENTRY_TO_SMM, "smm"},
    {'N', VMX_ENTRY_CTL_DEACTIVATE_DUAL_MONITOR, "dual-monitor"},
    {'N', VMX_ENTRY_CTL_LOAD_PERF_GLOBAL_CTRL, "perf_global_ctrl"},
    {'N', VMX_ENTRY_CTL_LOAD_PAT, "ia32_pat"},
    {'N', VMX_ENTRY_CTL_LOAD_EFER, "ia32_efer"},
    {'N', VMX_ENTRY_CTL_LOAD_BNDCFGS, "bndcfgs"},
    {'N', VMX_ENTRY_CTL_CONCEAL_VMX_FROM_PT, "conceal vmx"},
    {'N', VMX_ENTRY_CTL_LOAD_CET_STATE, "cet"},
    {'N', VMX_ENTRY_CTL_LOAD_PKRS, "pkrs"},
};

struct ctl_scan {
    unsigned matched[SIM_ARRAY_SIZE(our_ctls)];
    unsigned rows;
};

static void ctl_row(int section, const char *sub, gchar **cells, guint ncells,
                    void *opaque)
{
    struct ctl_scan *scan = opaque;
    char group;
    const char *p = cells[0];
    gchar *text;

    if (section == 4 && g_str_has_prefix(sub, "Pin-based")) {
        group = 'P';
    } else if (section == 4 && g_str_has_prefix(sub, "Primary")) {
        group = '1';
    } else if (section == 4 && g_str_has_prefix(sub, "Secondary")) {
        group = '2';
    } else if (section == 5) {
        group = 'X';
    } else if (section == 6) {
        group = 'N';
    } else {
        return;
    }
    text = g_ascii_strdown(cells[1], -1);
    /* A cell may hold several bits: "18 / 19". */
    while (*p != '\0') {
        char *end;
        unsigned bit;
        bool found = false;

        if (!isdigit((unsigned char)*p)) {
            p++;
            continue;
        }
        bit = (unsigned)strtoul(p, &end, 10);
        p = end;
        scan->rows++;
        for (size_t i = 0; i < SIM_ARRAY_SIZE(our_ctls); i++) {
            if (our_ctls[i].group == group && our_ctls[i].bit == 1u << bit &&
                strstr(text, our_ctls[i].word) != NULL) {
                scan->matched[i]++;
                found = true;
            }
        }
        if (!found) {
            printf("\n    §%d %s bit %u \"%s\": no macro\n", section, sub, bit,
                   cells[1]);
            CU_FAIL("control bit of the fact sheet without a macro");
        }
    }
    g_free(text);
}

static void test_spec_controls(void)
{
    gchar **lines = spec_lines();
    struct ctl_scan scan = {{0}, 0};

    if (lines == NULL) {
        return;
    }
    spec_rows(lines, ctl_row, &scan);
    CU_ASSERT_EQUAL(scan.rows, SIM_ARRAY_SIZE(our_ctls));
    for (size_t i = 0; i < SIM_ARRAY_SIZE(our_ctls); i++) {
        if (scan.matched[i] != 1) {
            printf("\n    control %c 0x%08x \"%s\" matched %u rows\n",
                   our_ctls[i].group, our_ctls[i].bit, our_ctls[i].word,
                   scan.matched[i]);
            CU_FAIL("control macro not matched by exactly one row");
        }
    }
    g_strfreev(lines);
}

/* Spot checks that hold with or without the fact sheet. */
static void test_known_encodings(void)
{
    static const struct {
        uint32_t enc;
        int idx;
    } known[] = {
        {0x0000, VMCS_VPID},
        {0x0002, VMCS_POSTED_INTR_NV},
        {0x0802, VMCS_GUEST_CS_SELECTOR},
        {0x0c0c, VMCS_HOST_TR_SELECTOR},
        {0x2000, VMCS_IO_BITMAP_A},
        {0x2004, VMCS_MSR_BITMAP},
        {0x201a, VMCS_EPT_POINTER},
        {0x2400, VMCS_GUEST_PHYSICAL_ADDRESS},
        {0x2800, VMCS_VMCS_LINK_POINTER},
        {0x2806, VMCS_GUEST_IA32_EFER},
        {0x4000, VMCS_PIN_BASED_CTLS},
        {0x401e, VMCS_PROC_BASED_CTLS2},
        {0x4402, VMCS_EXIT_REASON},
        {0x4824, VMCS_GUEST_INTERRUPTIBILITY},
        {0x482e, VMCS_PREEMPTION_TIMER_VALUE},
        {0x6400, VMCS_EXIT_QUALIFICATION},
        {0x640a, VMCS_GUEST_LINEAR_ADDRESS},
        {0x681e, VMCS_GUEST_RIP},
        {0x6c16, VMCS_HOST_RIP},
    };

    for (size_t i = 0; i < SIM_ARRAY_SIZE(known); i++) {
        CU_ASSERT_EQUAL(vmx_field_lookup(known[i].enc), known[i].idx);
    }
    CU_ASSERT_EQUAL(SIM_ARRAY_SIZE(our_fields), VMCS_NFIELDS);
    CU_ASSERT_EQUAL(VMX_EXIT_EXCEPTION_NMI, 0);
    CU_ASSERT_EQUAL(VMX_EXIT_EXTERNAL_INTERRUPT, 1);
    CU_ASSERT_EQUAL(VMX_EXIT_INTERRUPT_WINDOW, 7);
    CU_ASSERT_EQUAL(VMX_EXIT_HLT, 12);
    CU_ASSERT_EQUAL(VMX_EXIT_CR_ACCESS, 28);
    CU_ASSERT_EQUAL(VMX_EXIT_IO_INSTRUCTION, 30);
    CU_ASSERT_EQUAL(VMX_EXIT_WRMSR, 32);
    CU_ASSERT_EQUAL(VMX_EXIT_ENTRY_FAIL_GUEST_STATE, 33);
    CU_ASSERT_EQUAL(VMX_EXIT_APIC_ACCESS, 44);
    CU_ASSERT_EQUAL(VMX_EXIT_EPT_VIOLATION, 48);
    CU_ASSERT_EQUAL(VMX_EXIT_EPT_MISCONFIG, 49);
    CU_ASSERT_EQUAL(VMX_EXIT_TDCALL, 77);
    CU_ASSERT_STRING_EQUAL(vmx_exit_reason_name(30), "IO_INSTRUCTION");
    CU_ASSERT_STRING_EQUAL(
        vmx_exit_reason_name(VMX_EXIT_REASON_ENTRY_FAILURE | 33),
        "ENTRY_FAIL_GUEST_STATE");
    CU_ASSERT_PTR_NULL(vmx_exit_reason_name(35));
    CU_ASSERT_PTR_NULL(vmx_exit_reason_name(1000));
    CU_ASSERT_STRING_EQUAL(vmx_field_name(0x681e), "GUEST_RIP");
    CU_ASSERT_STRING_EQUAL(vmx_field_name(0x2011), "TSC_OFFSET");
    CU_ASSERT_PTR_NULL(vmx_field_name(0x681f));
    CU_ASSERT_PTR_NULL(vmx_field_name(0x2030));
}

/* ---- (b) VMREAD / VMWRITE ------------------------------------------------ */

static void test_rw_widths(void)
{
    struct vmx_vmcs *v = vmx_vmcs_new();
    uint64_t val = 0;

    CU_ASSERT_EQUAL(v->revision, VMX_VMCS_REVISION);
    CU_ASSERT_FALSE(v->launched);
    /* 16-bit: truncated. */
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x0802, 0x123456789ull), 0);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x0802, &val), 0);
    CU_ASSERT_EQUAL(val, 0x6789);
    CU_ASSERT_EQUAL(v->f[VMCS_GUEST_CS_SELECTOR], 0x6789);
    /* 32-bit: truncated. */
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x4002, 0xfedcba9876543210ull), 0);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x4002, &val), 0);
    CU_ASSERT_EQUAL(val, 0x76543210);
    /* 64-bit and natural: all 64 bits. */
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x2010, 0xfedcba9876543210ull), 0);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x2010, &val), 0);
    CU_ASSERT_EQUAL(val, 0xfedcba9876543210ull);
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x681e, 0xffff800000001000ull), 0);
    CU_ASSERT_EQUAL(v->f[VMCS_GUEST_RIP], 0xffff800000001000ull);
    vmx_vmcs_free(v);
}

static void test_rw_high(void)
{
    struct vmx_vmcs *v = vmx_vmcs_new();
    uint64_t val = 0;

    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x2010, 0x1111111122222222ull), 0);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x2011, &val), 0);
    CU_ASSERT_EQUAL(val, 0x11111111);
    /* The high access writes bits 63:32 from bits 31:0 of the operand. */
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x2011, 0xdeadbeefabcd0123ull), 0);
    CU_ASSERT_EQUAL(v->f[VMCS_TSC_OFFSET], 0xabcd012322222222ull);
    /* Only 64-bit fields have one. */
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x0803, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x4003, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x681f, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x681f, 1), 12);
    CU_ASSERT_EQUAL(vmx_field_lookup(0x2401), VMCS_GUEST_PHYSICAL_ADDRESS);
    vmx_vmcs_free(v);
}

static void test_rw_reserved(void)
{
    struct vmx_vmcs *v = vmx_vmcs_new();
    uint64_t val = 42;

    /* Bits 31:15 and 12 are reserved (§1): error 12. */
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x8000681e, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x0000e81e, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x0001681e, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x781e, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x781e, 1), 12);
    /* Unknown components: error 12, nothing written. */
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x0006, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x2030, &val), 12);
    CU_ASSERT_EQUAL(vmx_vmcs_write(v, 0x6c18, 1), 12);
    CU_ASSERT_EQUAL(val, 42);
    CU_ASSERT_EQUAL(vmx_field_lookup(0xffffffffu), -1);
    vmx_vmcs_free(v);
}

static void test_rw_read_only(void)
{
    struct vmx_vmcs *v = vmx_vmcs_new();
    uint64_t val = 0;

    /* Every type-1 field is read-only to VMWRITE: error 13. */
    for (size_t i = 0; i < SIM_ARRAY_SIZE(our_fields); i++) {
        uint32_t enc = our_fields[i].enc;
        unsigned want = VMX_ENC_TYPE(enc) == VMX_TYPE_EXIT_INFO ? 13 : 0;

        CU_ASSERT_EQUAL(vmx_vmcs_write(v, enc, 1), want);
        if (VMX_ENC_WIDTH(enc) == VMX_WIDTH_64) {
            CU_ASSERT_EQUAL(vmx_vmcs_write(v, enc | 1, 1), want);
        }
    }
    /* The CPU still records exit information, truncated to the width. */
    vmcs_set(v, VMCS_EXIT_REASON, 0x1ffffffffull);
    vmcs_set(v, VMCS_GUEST_PHYSICAL_ADDRESS, 0xfee00000ull);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x4402, &val), 0);
    CU_ASSERT_EQUAL(val, 0xffffffffull);
    CU_ASSERT_EQUAL(vmx_vmcs_read(v, 0x2400, &val), 0);
    CU_ASSERT_EQUAL(val, 0xfee00000ull);
    CU_ASSERT_EQUAL(vmx_field_mask(VMCS_VPID), 0xffff);
    CU_ASSERT_EQUAL(vmx_field_mask(VMCS_HOST_RIP), ~0ull);
    vmx_vmcs_free(v);
}

/* ---- (c) Capability MSRs ------------------------------------------------- */

static uint64_t cap(uint32_t msr)
{
    uint64_t v = 0;

    CU_ASSERT(vmx_capability_msr(msr, &v));
    return v;
}

static void test_capability_msrs(void)
{
    static const struct {
        uint32_t msr, true_msr, default1;
    } ctls[] = {
        {VMX_MSR_PINBASED_CTLS, VMX_MSR_TRUE_PINBASED_CTLS, 0x16},
        {VMX_MSR_PROCBASED_CTLS, VMX_MSR_TRUE_PROCBASED_CTLS, 0x0401e172},
        {VMX_MSR_EXIT_CTLS, VMX_MSR_TRUE_EXIT_CTLS, 0x00036dff},
        {VMX_MSR_ENTRY_CTLS, VMX_MSR_TRUE_ENTRY_CTLS, 0x000011ff},
    };
    uint64_t basic = cap(VMX_MSR_BASIC);
    uint64_t v;

    /* Default-1 bits of §3 in the low dword; allowed-1 covers allowed-0;
     * the TRUE MSRs relax only default-1 bits. */
    for (size_t i = 0; i < SIM_ARRAY_SIZE(ctls); i++) {
        uint64_t m = cap(ctls[i].msr), t = cap(ctls[i].true_msr);
        uint32_t lo = (uint32_t)m, hi = (uint32_t)(m >> 32);

        CU_ASSERT_EQUAL(lo, ctls[i].default1);
        CU_ASSERT_EQUAL(lo & ~hi, 0);
        CU_ASSERT_EQUAL((uint32_t)t & ~lo, 0);
        CU_ASSERT_EQUAL(t >> 32, hi);
    }
    CU_ASSERT_EQUAL((uint32_t)cap(VMX_MSR_TRUE_PROCBASED_CTLS), 0x04006172);
    CU_ASSERT((cap(VMX_MSR_PROCBASED_CTLS) >> 32 & VMX_PROC_USE_IO_BITMAPS) !=
              0);
    CU_ASSERT((cap(VMX_MSR_PROCBASED_CTLS2) >> 32 & VMX_PROC2_ENABLE_EPT) != 0);
    CU_ASSERT_EQUAL(
        cap(VMX_MSR_PROCBASED_CTLS2) >> 32 & VMX_PROC2_UNRESTRICTED_GUEST, 0);
    CU_ASSERT((cap(VMX_MSR_EXIT_CTLS) >> 32 & VMX_EXIT_CTL_ACK_INTR_ON_EXIT) !=
              0);
    CU_ASSERT(
        (cap(VMX_MSR_ENTRY_CTLS) >> 32 & VMX_ENTRY_CTL_IA32E_MODE_GUEST) != 0);

    /* IA32_VMX_BASIC. */
    CU_ASSERT_EQUAL(basic & VMX_BASIC_REVISION_MASK, VMX_VMCS_REVISION);
    CU_ASSERT_EQUAL((basic >> 32) & 0x1fff, 4096);
    CU_ASSERT_EQUAL((basic >> 50) & 0xf, 6);
    CU_ASSERT((basic & (1ull << 54)) != 0);
    CU_ASSERT((basic & (1ull << 55)) != 0);
    CU_ASSERT_EQUAL(basic & (1ull << 48), 0);

    /* Fixed bits: CR0.PE, NE, PG and CR4.VMXE must be 1. */
    CU_ASSERT_EQUAL(cap(VMX_MSR_CR0_FIXED0), 0x80000021);
    CU_ASSERT_EQUAL(cap(VMX_MSR_CR0_FIXED1), 0xffffffff);
    CU_ASSERT_EQUAL(cap(VMX_MSR_CR4_FIXED0), 0x2000);
    v = cap(VMX_MSR_CR4_FIXED1);
    CU_ASSERT_EQUAL(v & 0x2020, 0x2020); /* VMXE, PAE */
    CU_ASSERT_EQUAL(cap(VMX_MSR_CR4_FIXED0) & ~v, 0);

    /* EPT: 4-level walk, WB, 2-MB pages, INVEPT single/all, A/D. */
    v = cap(VMX_MSR_EPT_VPID_CAP);
    CU_ASSERT_EQUAL(v & ((1ull << 6) | (1ull << 14) | (1ull << 16) |
                         (1ull << 20) | (1ull << 21) | (1ull << 25) |
                         (1ull << 26)),
                    (1ull << 6) | (1ull << 14) | (1ull << 16) | (1ull << 20) |
                        (1ull << 21) | (1ull << 25) | (1ull << 26));
    CU_ASSERT_EQUAL(v & (1ull << 7), 0); /* no 5-level walk */
    CU_ASSERT_EQUAL(v >> 32, 0);         /* no VPID */

    /* MISC: HLT state, 4 CR3 targets; VMCS_ENUM: highest index 0x1a. */
    v = cap(VMX_MSR_MISC);
    CU_ASSERT((v & (1ull << 6)) != 0);
    CU_ASSERT_EQUAL((v >> 16) & 0x1ff, 4);
    CU_ASSERT_EQUAL(v & (1ull << 29), 0);
    CU_ASSERT_EQUAL(cap(VMX_MSR_VMCS_ENUM), 0x1a << 1);

    /* Absent MSRs. */
    CU_ASSERT_FALSE(vmx_capability_msr(VMX_MSR_VMFUNC, &v));
    CU_ASSERT_FALSE(vmx_capability_msr(VMX_MSR_PROCBASED_CTLS3, &v));
    CU_ASSERT_FALSE(vmx_capability_msr(0x47f, &v));
}

/* ---- (d) Checks on the controls and the guest state --------------------- */

/* A VMM's control setting: must-be-1 bits on, unsupported ones off. */
static uint32_t adjust(uint32_t msr, uint32_t want)
{
    uint64_t v = cap(msr);

    return (want | (uint32_t)v) & (uint32_t)(v >> 32);
}

#define EPTP_OK (0x3000ull | (3 << 3) | 6)

/* A VMCS that enters a 64-bit guest: flat segments, paging on, EPT, I/O and
 * MSR bitmaps, external-interrupt and HLT exiting. */
static struct vmx_vmcs *good_vmcs(void)
{
    struct vmx_vmcs *v = vmx_vmcs_new();
    uint64_t *f = v->f;
    unsigned i;

    f[VMCS_PIN_BASED_CTLS] =
        adjust(VMX_MSR_TRUE_PINBASED_CTLS, VMX_PIN_EXT_INTR_EXITING);
    f[VMCS_PROC_BASED_CTLS] =
        adjust(VMX_MSR_TRUE_PROCBASED_CTLS,
               VMX_PROC_HLT_EXITING | VMX_PROC_USE_IO_BITMAPS |
                   VMX_PROC_USE_MSR_BITMAPS | VMX_PROC_ACTIVATE_SECONDARY);
    f[VMCS_PROC_BASED_CTLS2] =
        adjust(VMX_MSR_PROCBASED_CTLS2, VMX_PROC2_ENABLE_EPT);
    f[VMCS_EXIT_CTLS] =
        adjust(VMX_MSR_TRUE_EXIT_CTLS, VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE |
                                           VMX_EXIT_CTL_ACK_INTR_ON_EXIT |
                                           VMX_EXIT_CTL_SAVE_EFER |
                                           VMX_EXIT_CTL_LOAD_EFER);
    f[VMCS_ENTRY_CTLS] =
        adjust(VMX_MSR_TRUE_ENTRY_CTLS,
               VMX_ENTRY_CTL_IA32E_MODE_GUEST | VMX_ENTRY_CTL_LOAD_EFER);
    f[VMCS_IO_BITMAP_A] = 0x10000;
    f[VMCS_IO_BITMAP_B] = 0x11000;
    f[VMCS_MSR_BITMAP] = 0x12000;
    f[VMCS_EPT_POINTER] = EPTP_OK;

    f[VMCS_GUEST_CR0] = 0x80050033; /* PG WP NE ET MP PE */
    f[VMCS_GUEST_CR4] = CPU_CR4_PAE | VMX_CR4_VMXE;
    f[VMCS_GUEST_CR3] = 0x1000;
    f[VMCS_GUEST_IA32_EFER] = CPU_EFER_LME | CPU_EFER_LMA | CPU_EFER_NXE;
    f[VMCS_GUEST_DR7] = 0x400;
    for (i = 0; i < 6; i++) { /* ES CS SS DS FS GS */
        f[VMCS_GUEST_ES_SELECTOR + i] = 0x10;
        f[VMCS_GUEST_ES_LIMIT + i] = 0xffffffff;
        f[VMCS_GUEST_ES_AR + i] = 0xc093; /* G DB P S type 3 */
    }
    f[VMCS_GUEST_CS_SELECTOR] = 0x08;
    f[VMCS_GUEST_CS_AR] = 0xa09b; /* G L P S type 11 */
    f[VMCS_GUEST_TR_SELECTOR] = 0x18;
    f[VMCS_GUEST_TR_LIMIT] = 0x67;
    f[VMCS_GUEST_TR_AR] = 0x8b; /* P, busy 64-bit TSS */
    f[VMCS_GUEST_LDTR_AR] = VMX_AR_UNUSABLE;
    f[VMCS_GUEST_GDTR_BASE] = 0x5000;
    f[VMCS_GUEST_GDTR_LIMIT] = 0x27;
    f[VMCS_GUEST_IDTR_BASE] = 0x6000;
    f[VMCS_GUEST_IDTR_LIMIT] = 0xfff;
    f[VMCS_GUEST_RIP] = 0x100000;
    f[VMCS_GUEST_RSP] = 0x80000;
    f[VMCS_GUEST_RFLAGS] = 0x2;
    f[VMCS_VMCS_LINK_POINTER] = ~0ull;
    return v;
}

/* The controls fail with error 7 and a reason that mentions @what. */
static void expect_ctl_fail(struct vmx_vmcs *v, const char *what)
{
    const char *why = NULL;

    CU_ASSERT_EQUAL(vmx_check_controls(v, &why), 7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    if (strstr(why, what) == NULL) {
        printf("\n    expected \"%s\", got \"%s\"\n", what, why);
        CU_FAIL("wrong reason");
    }
}

static void expect_guest_fail(struct vmx_vmcs *v, const char *what)
{
    const char *why = NULL;

    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, &why), 33);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    if (strstr(why, what) == NULL) {
        printf("\n    expected \"%s\", got \"%s\"\n", what, why);
        CU_FAIL("wrong reason");
    }
}

static void test_controls_valid(void)
{
    struct vmx_vmcs *v = good_vmcs();
    const char *why = "unset";

    CU_ASSERT_EQUAL(vmx_check_controls(v, &why), 0);
    CU_ASSERT_PTR_NULL(why);
    /* The non-TRUE default-1 values pass as well. */
    v->f[VMCS_PROC_BASED_CTLS] |= VMX_PROC_DEFAULT1;
    v->f[VMCS_EXIT_CTLS] |= VMX_EXIT_CTL_DEFAULT1;
    v->f[VMCS_ENTRY_CTLS] |= VMX_ENTRY_CTL_DEFAULT1;
    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    /* Secondary controls count only when activated. */
    v->f[VMCS_PROC_BASED_CTLS2] = VMX_PROC2_UNRESTRICTED_GUEST;
    v->f[VMCS_PROC_BASED_CTLS] &= ~VMX_PROC_ACTIVATE_SECONDARY;
    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    vmx_vmcs_free(v);
}

static void test_controls_capabilities(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_PIN_BASED_CTLS] &= ~(1u << 1);
    expect_ctl_fail(v, "PIN_BASED_CTLS: a must-be-1 bit");
    vmx_vmcs_free(v);

    v = good_vmcs();
    v->f[VMCS_PROC_BASED_CTLS] &= ~(1u << 26);
    expect_ctl_fail(v, "PROC_BASED_CTLS: a must-be-1 bit");
    vmx_vmcs_free(v);

    v = good_vmcs();
    v->f[VMCS_EXIT_CTLS] &= ~(1u << 0);
    expect_ctl_fail(v, "EXIT_CTLS: a must-be-1 bit");
    vmx_vmcs_free(v);

    v = good_vmcs();
    v->f[VMCS_PIN_BASED_CTLS] |= VMX_PIN_POSTED_INTR;
    expect_ctl_fail(v, "PIN_BASED_CTLS: a control the model does not");
    vmx_vmcs_free(v);

    v = good_vmcs();
    v->f[VMCS_PROC_BASED_CTLS] |= VMX_PROC_USE_TPR_SHADOW;
    expect_ctl_fail(v, "PROC_BASED_CTLS: a control the model does not");
    vmx_vmcs_free(v);

    v = good_vmcs();
    v->f[VMCS_PROC_BASED_CTLS2] |= VMX_PROC2_UNRESTRICTED_GUEST;
    expect_ctl_fail(v, "PROC_BASED_CTLS2: a control the model does not");
    vmx_vmcs_free(v);

    v = good_vmcs();
    v->f[VMCS_ENTRY_CTLS] |= VMX_ENTRY_CTL_LOAD_PAT;
    expect_ctl_fail(v, "ENTRY_CTLS: a control the model does not");
    vmx_vmcs_free(v);
}

static void test_controls_addresses(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_IO_BITMAP_A] = 0x10800;
    expect_ctl_fail(v, "IO_BITMAP_A: must be 4-KB aligned");
    v->f[VMCS_IO_BITMAP_A] = 0x10000;
    v->f[VMCS_IO_BITMAP_B] = 1ull << MMU_MAXPHYADDR;
    expect_ctl_fail(v, "IO_BITMAP_B");
    /* Unused bitmaps are not checked. */
    v->f[VMCS_PROC_BASED_CTLS] &= ~VMX_PROC_USE_IO_BITMAPS;
    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    v->f[VMCS_MSR_BITMAP] = 0x12008;
    expect_ctl_fail(v, "MSR_BITMAP: must be 4-KB aligned");
    v->f[VMCS_MSR_BITMAP] = 0x12000;
    v->f[VMCS_CR3_TARGET_COUNT] = 5;
    expect_ctl_fail(v, "CR3_TARGET_COUNT");
    v->f[VMCS_CR3_TARGET_COUNT] = 4;
    v->f[VMCS_EXIT_MSR_STORE_COUNT] = 1;
    v->f[VMCS_EXIT_MSR_STORE_ADDR] = 0x13008;
    expect_ctl_fail(v, "EXIT_MSR_STORE_ADDR");
    v->f[VMCS_EXIT_MSR_STORE_ADDR] = 0x13010;
    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    vmx_vmcs_free(v);
}

static void test_controls_eptp(void)
{
    static const uint64_t bad[] = {
        0x3000 | (3 << 3) | 1,            /* WC */
        0x3000 | (3 << 3) | 7,            /* reserved type */
        0x3000 | (4 << 3) | 6,            /* 5-level walk */
        0x3000 | (1 << 3) | 6,            /* 2-level walk */
        0x3000 | (1 << 7) | (3 << 3) | 6, /* shadow-stack bit */
        0x3100 | (3 << 3) | 6,            /* bits 11:8 */
        (1ull << 50) | (3 << 3) | 6,      /* beyond MAXPHYADDR */
    };
    static const char *const why_bad[] = {
        "memory type",
        "memory type",
        "page-walk length",
        "page-walk length",
        "bit 7",
        "bits 11:8",
        "physical-address width",
    };
    static const uint64_t good[] = {
        EPTP_OK, 0x3000 | (3 << 3) | 0,   /* UC */
        0x3000 | (1 << 6) | (3 << 3) | 6, /* A/D */
    };
    struct vmx_vmcs *v = good_vmcs();

    for (size_t i = 0; i < SIM_ARRAY_SIZE(bad); i++) {
        v->f[VMCS_EPT_POINTER] = bad[i];
        expect_ctl_fail(v, why_bad[i]);
        /* mmu/ agrees with the VM-entry check. */
        CU_ASSERT_FALSE(mmu_eptp_valid(bad[i]));
    }
    for (size_t i = 0; i < SIM_ARRAY_SIZE(good); i++) {
        v->f[VMCS_EPT_POINTER] = good[i];
        CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
        CU_ASSERT(mmu_eptp_valid(good[i]));
    }
    /* Without EPT the pointer is not looked at. */
    v->f[VMCS_EPT_POINTER] = 1;
    v->f[VMCS_PROC_BASED_CTLS2] = 0;
    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    vmx_vmcs_free(v);
}

/*
 * Posted interrupts are not allowed by the capability MSRs yet, so their
 * rules are exercised through vmx_check_control_rules().
 */
static void test_controls_posted_interrupts(void)
{
    struct vmx_vmcs *v = good_vmcs();
    const char *why = NULL;

    v->f[VMCS_PIN_BASED_CTLS] |= VMX_PIN_POSTED_INTR;
    CU_ASSERT_EQUAL(vmx_check_control_rules(v, &why), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "virtual-interrupt delivery"));

    v->f[VMCS_PROC_BASED_CTLS2] |= VMX_PROC2_VIRT_INTR_DELIVERY;
    v->f[VMCS_PROC_BASED_CTLS] |= VMX_PROC_USE_TPR_SHADOW;
    v->f[VMCS_VIRTUAL_APIC_PAGE_ADDR] = 0x14000;
    v->f[VMCS_EXIT_CTLS] &= ~VMX_EXIT_CTL_ACK_INTR_ON_EXIT;
    CU_ASSERT_EQUAL(vmx_check_control_rules(v, &why), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "acknowledge interrupt on exit"));

    v->f[VMCS_EXIT_CTLS] |= VMX_EXIT_CTL_ACK_INTR_ON_EXIT;
    v->f[VMCS_POSTED_INTR_NV] = 0x1f2;
    CU_ASSERT_EQUAL(vmx_check_control_rules(v, &why), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "POSTED_INTR_NV"));

    v->f[VMCS_POSTED_INTR_NV] = 0xf2;
    v->f[VMCS_POSTED_INTR_DESC_ADDR] = 0x15020;
    CU_ASSERT_EQUAL(vmx_check_control_rules(v, &why), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "POSTED_INTR_DESC_ADDR"));

    v->f[VMCS_POSTED_INTR_DESC_ADDR] = 0x15040;
    CU_ASSERT_EQUAL(vmx_check_control_rules(v, &why), 0);

    /* Virtual-interrupt delivery needs external-interrupt exiting. */
    v->f[VMCS_PIN_BASED_CTLS] &= ~VMX_PIN_EXT_INTR_EXITING;
    CU_ASSERT_EQUAL(vmx_check_control_rules(v, &why), 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "external-interrupt exiting"));
    /* And the capability check still refuses the lot. */
    v->f[VMCS_PIN_BASED_CTLS] |= VMX_PIN_EXT_INTR_EXITING;
    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 7);
    vmx_vmcs_free(v);
}

static void test_controls_injection(void)
{
    static const struct {
        uint32_t info, error, len;
        const char *why; /* NULL: valid */
    } cases[] = {
        {VMX_INTR_VALID | 0x20, 0, 0, NULL},         /* ext 0x20 */
        {VMX_INTR_VALID | (2 << 8) | 2, 0, 0, NULL}, /* NMI */
        {VMX_INTR_VALID | (3 << 8) | 14 | VMX_INTR_ERROR_CODE, 2, 0, NULL},
        {VMX_INTR_VALID | (3 << 8) | 6, 0, 0, NULL},    /* #UD */
        {VMX_INTR_VALID | (4 << 8) | 0x80, 0, 2, NULL}, /* INT 80h */
        {VMX_INTR_VALID | (1 << 8) | 0x20, 0, 0, "type 1"},
        {VMX_INTR_VALID | (2 << 8) | 3, 0, 0, "vector 2"},
        {VMX_INTR_VALID | (3 << 8) | 32, 0, 0, "below 32"},
        {VMX_INTR_VALID | (3 << 8) | 14, 0, 0, "deliver-error-code"},
        {VMX_INTR_VALID | (3 << 8) | 6 | VMX_INTR_ERROR_CODE, 0, 0,
         "deliver-error-code"},
        {VMX_INTR_VALID | (3 << 8) | 13 | VMX_INTR_ERROR_CODE, 0x10000, 0,
         "ENTRY_EXCEPTION_ERROR_CODE"},
        {VMX_INTR_VALID | (4 << 8) | 0x80, 0, 0, "ENTRY_INSTRUCTION_LEN"},
        {VMX_INTR_VALID | (6 << 8) | 3, 0, 16, "ENTRY_INSTRUCTION_LEN"},
        {VMX_INTR_VALID | (7 << 8), 0, 0, "other event"},
        {VMX_INTR_VALID | (1u << 12) | 0x20, 0, 0, "reserved bits 30:12"},
        {(3 << 8) | 99, 0, 0, NULL}, /* not valid: not looked at */
    };
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_GUEST_RFLAGS] |= CPU_FLAG_IF;
    for (size_t i = 0; i < SIM_ARRAY_SIZE(cases); i++) {
        v->f[VMCS_ENTRY_INTR_INFO] = cases[i].info;
        v->f[VMCS_ENTRY_EXCEPTION_ERROR_CODE] = cases[i].error;
        v->f[VMCS_ENTRY_INSTRUCTION_LEN] = cases[i].len;
        if (cases[i].why == NULL) {
            CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
            CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
        } else {
            expect_ctl_fail(v, cases[i].why);
        }
    }
    vmx_vmcs_free(v);
}

static void test_guest_valid(void)
{
    struct vmx_vmcs *v = good_vmcs();
    const char *why = "unset";

    CU_ASSERT_EQUAL(vmx_check_controls(v, NULL), 0);
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, &why), 0);
    if (why != NULL) {
        printf("\n    %s\n", why);
    }
    CU_ASSERT_PTR_NULL(why);
    /* User mode with usable FS/GS bases, HLT state at CPL 0. */
    v->f[VMCS_GUEST_FS_BASE] = 0xffff800000000000ull;
    v->f[VMCS_GUEST_GS_AR] = VMX_AR_UNUSABLE;
    v->f[VMCS_GUEST_ACTIVITY_STATE] = VMX_ACTIVITY_HLT;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    vmx_vmcs_free(v);
}

static void test_guest_control_registers(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_GUEST_CR0] &= ~CPU_CR0_NE;
    expect_guest_fail(v, "GUEST_CR0: PE, NE and PG must be 1");
    v->f[VMCS_GUEST_CR0] |= CPU_CR0_NE | (1ull << 32);
    expect_guest_fail(v, "GUEST_CR0: bits 63:32");
    v->f[VMCS_GUEST_CR0] &= 0xffffffff;
    v->f[VMCS_GUEST_CR4] &= ~VMX_CR4_VMXE;
    expect_guest_fail(v, "GUEST_CR4: VMXE");
    v->f[VMCS_GUEST_CR4] |= VMX_CR4_VMXE | VMX_CR4_PCIDE;
    expect_guest_fail(v, "IA32_VMX_CR4_FIXED1");
    v->f[VMCS_GUEST_CR4] = VMX_CR4_VMXE;
    expect_guest_fail(v, "CR4.PAE = 1");
    v->f[VMCS_GUEST_CR4] |= CPU_CR4_PAE;
    v->f[VMCS_GUEST_CR3] = 1ull << 50;
    expect_guest_fail(v, "GUEST_CR3");
    v->f[VMCS_GUEST_CR3] = 0x1000;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    vmx_vmcs_free(v);
}

static void test_guest_efer(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_GUEST_IA32_EFER] &= ~CPU_EFER_LMA;
    expect_guest_fail(v, "LMA must equal the IA-32e");
    v->f[VMCS_GUEST_IA32_EFER] = CPU_EFER_LMA;
    expect_guest_fail(v, "LME must equal LMA");
    v->f[VMCS_GUEST_IA32_EFER] = CPU_EFER_LMA | CPU_EFER_LME | (1ull << 4);
    expect_guest_fail(v, "GUEST_IA32_EFER: reserved bits");
    /* Without load EFER the field is not looked at. */
    v->f[VMCS_ENTRY_CTLS] &= ~VMX_ENTRY_CTL_LOAD_EFER;
    v->f[VMCS_GUEST_IA32_EFER] = 0;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    vmx_vmcs_free(v);
}

static void test_guest_segments(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_GUEST_CS_AR] |= VMX_AR_DB;
    expect_guest_fail(v, "GUEST_CS_AR: with L = 1");
    v->f[VMCS_GUEST_CS_AR] = 0xa093; /* a data segment */
    expect_guest_fail(v, "GUEST_CS_AR: type must be");
    v->f[VMCS_GUEST_CS_AR] = 0xa09b;
    v->f[VMCS_GUEST_CS_LIMIT] = 0xffff0; /* G = 1 needs 11:0 all ones */
    expect_guest_fail(v, "GUEST_CS_AR: G (bit 15)");
    v->f[VMCS_GUEST_CS_LIMIT] = 0xffffffff;
    v->f[VMCS_GUEST_DS_AR] = 0xc092; /* not accessed */
    expect_guest_fail(v, "GUEST_DS_AR: type must be accessed");
    v->f[VMCS_GUEST_DS_AR] = 0xc013; /* not present */
    expect_guest_fail(v, "GUEST_DS_AR: P (bit 7)");
    v->f[VMCS_GUEST_DS_AR] = VMX_AR_UNUSABLE | 0x12;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    v->f[VMCS_GUEST_GS_BASE] = 0x0000800000000000ull;
    expect_guest_fail(v, "GUEST_GS_BASE: must be canonical");
    v->f[VMCS_GUEST_GS_BASE] = 0;
    v->f[VMCS_GUEST_SS_SELECTOR] = 0x13;
    expect_guest_fail(v, "GUEST_SS_SELECTOR: RPL");
    v->f[VMCS_GUEST_SS_SELECTOR] = 0x10;
    v->f[VMCS_GUEST_TR_AR] = 0x89; /* available TSS */
    expect_guest_fail(v, "GUEST_TR_AR: type must be 11");
    v->f[VMCS_GUEST_TR_AR] = 0x8b;
    v->f[VMCS_GUEST_LDTR_AR] = 0x82;
    v->f[VMCS_GUEST_LDTR_SELECTOR] = 0x24; /* TI set */
    expect_guest_fail(v, "GUEST_LDTR_SELECTOR: TI");
    v->f[VMCS_GUEST_LDTR_SELECTOR] = 0x20;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    v->f[VMCS_GUEST_IDTR_LIMIT] = 0x10000;
    expect_guest_fail(v, "GUEST_IDTR_LIMIT");
    vmx_vmcs_free(v);
}

static void test_guest_rip_rflags(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_GUEST_RIP] = 0x0000800000000000ull;
    expect_guest_fail(v, "GUEST_RIP: must be canonical");
    v->f[VMCS_GUEST_RIP] = 0xffff800000000000ull;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    /* Outside 64-bit code RIP is 32 bits. */
    v->f[VMCS_GUEST_CS_AR] = 0xc09b;
    expect_guest_fail(v, "GUEST_RIP: bits 63:32");
    v->f[VMCS_GUEST_CS_AR] = 0xa09b;
    v->f[VMCS_GUEST_RFLAGS] = 0;
    expect_guest_fail(v, "GUEST_RFLAGS: bit 1 must be 1");
    v->f[VMCS_GUEST_RFLAGS] = 0x2 | (1ull << 15);
    expect_guest_fail(v, "GUEST_RFLAGS: reserved");
    v->f[VMCS_GUEST_RFLAGS] = 0x2 | (1ull << 22);
    expect_guest_fail(v, "GUEST_RFLAGS: reserved");
    v->f[VMCS_GUEST_RFLAGS] = 0x2 | (1ull << 3);
    expect_guest_fail(v, "GUEST_RFLAGS: reserved");
    v->f[VMCS_GUEST_RFLAGS] = 0x2 | (1ull << 17);
    expect_guest_fail(v, "GUEST_RFLAGS: VM");
    v->f[VMCS_GUEST_RFLAGS] = 0x2 | (1ull << 21) | CPU_FLAG_IF;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    vmx_vmcs_free(v);
}

static void test_guest_non_register_state(void)
{
    struct vmx_vmcs *v = good_vmcs();

    v->f[VMCS_GUEST_ACTIVITY_STATE] = 4;
    expect_guest_fail(v, "GUEST_ACTIVITY_STATE: must be 0 to 3");
    v->f[VMCS_GUEST_ACTIVITY_STATE] = VMX_ACTIVITY_SHUTDOWN;
    expect_guest_fail(v, "not supported");
    v->f[VMCS_GUEST_ACTIVITY_STATE] = VMX_ACTIVITY_ACTIVE;

    v->f[VMCS_GUEST_INTERRUPTIBILITY] = VMX_INTERRUPTIBILITY_STI;
    expect_guest_fail(v, "STI blocking needs RFLAGS.IF = 1");
    v->f[VMCS_GUEST_RFLAGS] |= CPU_FLAG_IF;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    v->f[VMCS_GUEST_INTERRUPTIBILITY] |= VMX_INTERRUPTIBILITY_MOV_SS;
    expect_guest_fail(v, "cannot both be 1");
    v->f[VMCS_GUEST_INTERRUPTIBILITY] = 1u << 5;
    expect_guest_fail(v, "GUEST_INTERRUPTIBILITY: bits 31:4");
    v->f[VMCS_GUEST_INTERRUPTIBILITY] = VMX_INTERRUPTIBILITY_STI;
    v->f[VMCS_GUEST_ACTIVITY_STATE] = VMX_ACTIVITY_HLT;
    expect_guest_fail(v, "needs the active activity state");
    v->f[VMCS_GUEST_ACTIVITY_STATE] = VMX_ACTIVITY_ACTIVE;

    /* Injecting an external interrupt needs IF = 1 and no STI blocking. */
    v->f[VMCS_ENTRY_INTR_INFO] = VMX_INTR_VALID | 0x30;
    expect_guest_fail(v, "no STI or MOV-SS blocking");
    v->f[VMCS_GUEST_INTERRUPTIBILITY] = 0;
    v->f[VMCS_GUEST_RFLAGS] &= ~CPU_FLAG_IF;
    expect_guest_fail(v, "IF must be 1 to inject");
    v->f[VMCS_GUEST_RFLAGS] |= CPU_FLAG_IF;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    /* In HLT only some events can be injected. */
    v->f[VMCS_GUEST_ACTIVITY_STATE] = VMX_ACTIVITY_HLT;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    v->f[VMCS_ENTRY_INTR_INFO] = VMX_INTR_VALID | (3 << 8) | 6;
    expect_guest_fail(v, "in HLT only");
    v->f[VMCS_ENTRY_INTR_INFO] = 0;

    /* Single-stepping in HLT needs BS in the pending debug exceptions. */
    v->f[VMCS_GUEST_RFLAGS] |= CPU_FLAG_TF;
    expect_guest_fail(v, "BS (bit 14)");
    v->f[VMCS_GUEST_PENDING_DBG_EXCEPTIONS] = 1ull << 14;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    v->f[VMCS_GUEST_PENDING_DBG_EXCEPTIONS] |= 1ull << 16;
    expect_guest_fail(v, "GUEST_PENDING_DBG_EXCEPTIONS: reserved");
    v->f[VMCS_GUEST_PENDING_DBG_EXCEPTIONS] = 1ull << 14;

    v->f[VMCS_VMCS_LINK_POINTER] = 0x1234;
    expect_guest_fail(v, "VMCS_LINK_POINTER");
    v->f[VMCS_VMCS_LINK_POINTER] = 0x20000;
    CU_ASSERT_EQUAL(vmx_check_guest_state(v, NULL), 0);
    vmx_vmcs_free(v);
}

/* ---- The listing -------------------------------------------------------- */

/* The exits the model produces today (VMX_EXIT_F_PRODUCED). */
static bool produced(unsigned n)
{
    /* The exits the CPU produces (cpu/vmx.c and the handlers that call
     * it); the VMX instructions 19-27, 50, 53 exit unconditionally. */
    static const unsigned list[] = {0,  1,  2,  7,  10, 12, 13, 14, 16,
                                    18, 19, 20, 21, 22, 23, 24, 25, 26,
                                    27, 28, 30, 31, 32, 33, 40, 48, 49,
                                    50, 51, 53, 54};

    for (size_t i = 0; i < SIM_ARRAY_SIZE(list); i++) {
        if (list[i] == n) {
            return true;
        }
    }
    return false;
}

static void test_print_tables(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    gchar **lines;
    unsigned part = 0, exits = 0, fields = 0, msrs = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    vmx_print_tables(out);
    fclose(out);
    lines = g_strsplit(buf, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++) {
        const char *l = lines[i];
        unsigned n;
        char name[64], model[8];

        if (g_str_has_prefix(l, "VM-exit reasons")) {
            part = 1;
        } else if (g_str_has_prefix(l, "VMCS fields")) {
            part = 2;
        } else if (g_str_has_prefix(l, "VMX capability MSRs")) {
            part = 3;
        } else if (part == 1 &&
                   sscanf(l, " %u %63s %7s", &n, name, model) == 3) {
            const char *want = vmx_exit_reason_name(n);

            exits++;
            CU_ASSERT(want != NULL && strcmp(want, name) == 0);
            CU_ASSERT_STRING_EQUAL(model, produced(n) ? "yes" : "-");
        } else if (part == 2 && sscanf(l, " 0x%x %63s", &n, name) == 2) {
            fields++;
            CU_ASSERT(vmx_field_lookup(n) >= 0);
            CU_ASSERT_PTR_NOT_NULL(strstr(l, vmx_field_name(n)));
        } else if (part == 3 && sscanf(l, " 0x%x %63s", &n, name) == 2) {
            msrs++;
            CU_ASSERT(g_str_has_prefix(name, "IA32_VMX_"));
        }
    }
    CU_ASSERT_EQUAL(exits, SIM_ARRAY_SIZE(our_exits));
    CU_ASSERT_EQUAL(fields, SIM_ARRAY_SIZE(our_fields));
    CU_ASSERT_EQUAL(msrs, 0x492 - 0x480 + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "unverified"));
    for (size_t i = 0; i < SIM_ARRAY_SIZE(our_exits); i++) {
        CU_ASSERT_EQUAL((our_exits[i].flags & VMX_EXIT_F_PRODUCED) != 0,
                        produced(our_exits[i].num));
    }
    g_strfreev(lines);
    free(buf);
}

static CU_TestInfo vmcs_tests[] = {
    {"fact sheet §2: field encodings, both ways", test_spec_fields},
    {"fact sheet §7: exit reasons, both ways", test_spec_exits},
    {"fact sheet §3: default-1 control bits", test_spec_default1},
    {"fact sheet §4-§6: control bit macros", test_spec_controls},
    {"known encodings and exit numbers", test_known_encodings},
    {"VMREAD/VMWRITE: widths truncate", test_rw_widths},
    {"VMREAD/VMWRITE: high access of 64-bit fields", test_rw_high},
    {"VMREAD/VMWRITE: reserved or unknown encodings -> 12", test_rw_reserved},
    {"VMWRITE to exit information -> 13; vmcs_set", test_rw_read_only},
    {"capability MSRs", test_capability_msrs},
    {"controls: a valid set passes", test_controls_valid},
    {"controls: must-be-1 and unsupported bits", test_controls_capabilities},
    {"controls: bitmap and MSR-area addresses", test_controls_addresses},
    {"controls: EPTP", test_controls_eptp},
    {"controls: posted-interrupt rules", test_controls_posted_interrupts},
    {"controls: VM-entry event injection", test_controls_injection},
    {"guest state: a 64-bit guest passes", test_guest_valid},
    {"guest state: CR0, CR3, CR4", test_guest_control_registers},
    {"guest state: EFER and IA-32e mode", test_guest_efer},
    {"guest state: segments, GDTR, IDTR", test_guest_segments},
    {"guest state: RIP and RFLAGS", test_guest_rip_rflags},
    {"guest state: activity, interruptibility, debug, link",
     test_guest_non_register_state},
    {"iovsim vmcs listing", test_print_tables},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo test_vmcs_suites[] = {
    {"cpu/vmcs", NULL, NULL, NULL, NULL, vmcs_tests},
    CU_SUITE_INFO_NULL,
};
