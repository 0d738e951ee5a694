# cpu/: x86-64 decode (Zydis) and execution.
LIB_SRCS += $(wildcard cpu/*.c)
