# sim/: the machine, configs, the CLI.  main.c is linked only into iovsim.
LIB_SRCS += $(filter-out sim/main.c,$(wildcard sim/*.c))
# Shipped CPU profiles (sim/profiles/NAME.ini) are found from any
# directory through the source tree's path.
$(BUILD)/sim/config.o: CFLAGS += -DSIM_SRCDIR='"$(CURDIR)"'
# machine.o records the source revision (Makefile, VERSION_STAMP).
