/*
 * traces/disasm.c: Capstone disassembly of trapped instructions for level
 * full and for listings (STYLE rule 7: Capstone lives only in traces/ and
 * analysis/).  Intel syntax, as Zydis and the SDM write instructions:
 * "mov dword ptr [rax], ecx".
 */
#include "sim/common.h"

#include <capstone/capstone.h>
#include <glib.h>

#include "traces/traces-internal.h"
#include "traces/traces.h"

/* The longest x86 instruction (SDM 2A §2.1). */
#define TRACE_INSN_MAX 15

bool trace_capstone_open(csh *handle)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_64, handle) != CS_ERR_OK) {
        return false;
    }
    cs_option(*handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
    return true;
}

char *trace_disasm_with(csh handle, const uint8_t *bytes, size_t len,
                        uint64_t rip)
{
    cs_insn *insn = NULL;
    size_t n =
        cs_disasm(handle, bytes, MIN(len, TRACE_INSN_MAX), rip, 1, &insn);
    char *text;

    if (n == 0) {
        return g_strdup("(bad)");
    }
    if (insn[0].op_str[0] != '\0') {
        text = g_strdup_printf("%s %s", insn[0].mnemonic, insn[0].op_str);
    } else {
        text = g_strdup(insn[0].mnemonic);
    }
    cs_free(insn, n);
    return text;
}

char *trace_disasm(const uint8_t *bytes, size_t len, uint64_t rip)
{
    csh handle;
    char *text;

    if (!trace_capstone_open(&handle)) {
        return g_strdup("(bad)");
    }
    text = trace_disasm_with(handle, bytes, len, rip);
    cs_close(&handle);
    return text;
}
