# iovsim: one Makefile, one fragment per folder (<folder>/module.mk).
# Objects go to build/ with -MMD dependencies.  WERROR=1 (CI) turns
# warnings into errors.

CC ?= gcc
BUILD := build
WERROR ?= 0
OPT ?= -O2

WARNFLAGS := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif

# Filled in by the fragments.
LIB_SRCS :=
TEST_SRCS :=
GUEST_PROGS :=
BENCH_PROGS :=

all:

# The set-up step: install missing Debian packages (as root) and record
# library flags.  GNU make rebuilds this included file first.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
$(BUILD)/config.mk: mk/deps.sh mk/configure.sh
	@mkdir -p $(BUILD)
	@sh mk/deps.sh
	@sh mk/configure.sh $@.tmp && mv $@.tmp $@
include $(BUILD)/config.mk
endif

CFLAGS := -std=gnu11 $(OPT) -g $(WARNFLAGS) -I. $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(PKG_LIBS)

include cpu/module.mk
include mmu/module.mk
include bus/module.mk
include devices/module.mk
include sim/module.mk
include traces/module.mk
include analysis/module.mk
include workloads/module.mk
include tests/module.mk

LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS))

IOVSIM := $(BUILD)/iovsim
TESTBIN := $(BUILD)/tests/iovsim-tests

$(BUILD)/%.o: %.c $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(IOVSIM): $(LIB_OBJS) $(BUILD)/sim/main.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(TESTBIN): $(LIB_OBJS) $(TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

all: $(IOVSIM) guests

check: all $(TESTBIN)
	$(TESTBIN)

# make difftest N=5000000: a longer differential test than make check's.
N ?= 1000000
difftest: $(TESTBIN)
	IOVSIM_DIFFTEST_N=$(N) $(TESTBIN) --suite difftest

# The demo: one I/O guest natively, under VMX with in-VMM device models,
# and under VMX with user-space ones, recorded in results/demo.db; then the
# comparison and the plots (results/*.png).
DEMO_USERSPACE := --set device.debugcon.placement=userspace \
	--set device.regfile.placement=userspace \
	--set device.postcode.placement=userspace
demo: all
	@mkdir -p results
	rm -f results/demo.db results/demo.db-wal results/demo.db-shm
	$(IOVSIM) run experiments/default.ini --db results/demo.db \
	    --set experiment.name=native --console results/console-native.txt
	$(IOVSIM) run experiments/default.ini --db results/demo.db \
	    --set experiment.name=hvm --set machine.mode=hvm \
	    --console results/console-hvm.txt
	$(IOVSIM) run experiments/default.ini --db results/demo.db \
	    --set experiment.name=hvm-userspace --set machine.mode=hvm \
	    $(DEMO_USERSPACE) --console results/console-hvm-userspace.txt
	$(IOVSIM) report results/demo.db --compare 1,2,3
	python3 analysis/plot.py results/demo.db results

bench: all
	@sh mk/bench.sh $(IOVSIM)

clean:
	rm -rf $(BUILD)

.PHONY: all check difftest demo bench clean guests

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/sim/main.d
