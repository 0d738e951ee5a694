/*
 * traces/events.c: the tables generated from traces/events.def and
 * cpu/vmexit.def (the CPU's table), and trace levels by name.
 */
#include "sim/common.h"

#include <string.h>

#include <glib.h>

#include "traces/traces-internal.h"
#include "cpu/cpu.h"
#include "traces/traces.h"

G_DEFINE_QUARK(trace - error - quark, trace_error)

const struct trace_kind_info trace_kinds[TRACE_EVENT_NKINDS] = {
#define TRACE_EVENT(NAME, name, level, fields, doc)                            \
    [TRACE_EVENT_##NAME] = {name, TRACE_LEVEL_##level, (fields), doc},
#include "traces/events.def"
#undef TRACE_EVENT
};

static const char *const trace_level_names[] = {
    [TRACE_LEVEL_SUMMARY] = "summary",
    [TRACE_LEVEL_IO] = "io",
    [TRACE_LEVEL_EXITS] = "exits",
    [TRACE_LEVEL_FULL] = "full",
};


bool trace_level_parse(const char *text, enum trace_level *level,
                       GError **error)
{
    for (size_t i = 0; i < SIM_ARRAY_SIZE(trace_level_names); i++) {
        if (text != NULL && strcmp(text, trace_level_names[i]) == 0) {
            *level = (enum trace_level)i;
            return true;
        }
    }
    g_set_error(error, TRACE_ERROR, TRACE_ERROR_LEVEL,
                "unknown trace level '%s' (expected summary, io, exits or "
                "full)",
                text != NULL ? text : "");
    return false;
}

const char *trace_level_name(enum trace_level level)
{
    if ((unsigned)level >= SIM_ARRAY_SIZE(trace_level_names)) {
        return "?";
    }
    return trace_level_names[level];
}

const char *trace_event_kind_name(enum trace_event_kind kind)
{
    if ((unsigned)kind >= TRACE_EVENT_NKINDS) {
        return NULL;
    }
    return trace_kinds[kind].name;
}

enum trace_level trace_event_kind_level(enum trace_event_kind kind)
{
    g_assert((unsigned)kind < TRACE_EVENT_NKINDS);
    return trace_kinds[kind].level;
}

/* One table of exit reasons for the whole simulator: cpu/vmexit.def. */
const char *trace_exit_reason_name(unsigned reason)
{
    return reason > 0xffff ? NULL : vmx_exit_reason_name(reason);
}
