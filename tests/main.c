/*
 * tests/main.c: the single CUnit runner for `make check`.  Registers every
 * suite array listed in tests/suites.def and returns the number of
 * failures, so a failing test fails the build.  `--suite NAME` runs only
 * the suites whose name starts with NAME (e.g. `--suite difftest`).
 */
#include "sim/common.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#define SUITE(name) extern CU_SuiteInfo name[];
#include "tests/suites.def"
#undef SUITE

static CU_SuiteInfo *const suite_arrays[] = {
#define SUITE(name) name,
#include "tests/suites.def"
#undef SUITE
    NULL
};

static bool register_suites(const char *only)
{
    for (size_t i = 0; suite_arrays[i] != NULL; i++) {
        for (CU_SuiteInfo *s = suite_arrays[i]; s->pName != NULL; s++) {
            CU_SuiteInfo one[2] = {*s, CU_SUITE_INFO_NULL};

            if (only != NULL && strncmp(s->pName, only, strlen(only)) != 0) {
                continue;
            }
            if (CU_register_suites(one) != CUE_SUCCESS) {
                fprintf(stderr, "tests: cannot register suite %s: %s\n",
                        s->pName, CU_get_error_msg());
                return false;
            }
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    unsigned failures;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--suite NAME]\n", argv[0]);
            return 2;
        }
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "tests: %s\n", CU_get_error_msg());
        return 2;
    }
    if (!register_suites(only)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() +
               CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failures > 255 ? 255 : (int)failures;
}
