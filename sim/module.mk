# sim/: the machine, configs, the CLI.  main.c is linked only into iovsim.
LIB_SRCS += $(filter-out sim/main.c,$(wildcard sim/*.c))
