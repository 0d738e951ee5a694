# tests/: one CUnit binary; tests/<folder>/test-<module>.c mirror the tree.
TEST_SRCS += tests/main.c $(wildcard tests/*/*.c)

include tests/hostile/module.mk
