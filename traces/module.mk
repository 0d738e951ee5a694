# traces/: the SQLite trace schema, its writer and the benchmark.
LIB_SRCS += $(wildcard traces/*.c)
