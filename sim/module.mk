# sim/: the machine, configs, the CLI.  main.c is linked only into iovsim.
LIB_SRCS += $(filter-out sim/main.c,$(wildcard sim/*.c))
# Shipped CPU profiles (sim/profiles/NAME.ini) are found from any
# directory through the source tree's path.
$(BUILD)/sim/config.o: CFLAGS += -DSIM_SRCDIR='"$(CURDIR)"'
# The source revision each traced run records (runs.git_version).
$(BUILD)/sim/machine.o: CFLAGS += -DSIM_GIT_VERSION='"$(shell git describe --always --dirty 2>/dev/null || echo unknown)"'
