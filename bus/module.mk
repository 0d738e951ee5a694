# bus/: port-I/O and MMIO dispatch.
LIB_SRCS += $(wildcard bus/*.c)
