# tests/: one CUnit binary; tests/<folder>/test-<module>.c mirror the tree.
# tests/fuzz/ holds libFuzzer harnesses instead (tests/fuzz/module.mk).
TEST_SRCS += tests/main.c tests/tmpdir.c $(filter-out tests/fuzz/%,$(wildcard tests/*/*.c))

include tests/hostile/module.mk
