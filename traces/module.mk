# traces/: SQLite trace schema and writer (later issues).
LIB_SRCS += $(wildcard traces/*.c)
