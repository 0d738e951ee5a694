# devices/: device models, one file each.
LIB_SRCS += $(wildcard devices/*.c devices/*/*.c)
