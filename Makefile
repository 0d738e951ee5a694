# iovsim: one Makefile, one fragment per folder (<folder>/module.mk).
# Objects go to build/ with -MMD dependencies.  WERROR=1 (CI) turns
# warnings into errors.  SANITIZE=1 builds the host code (library, iovsim,
# the test binary) with AddressSanitizer and UndefinedBehaviorSanitizer
# into build-san/, so the normal build is left alone; the guest programs
# are freestanding and stay unsanitized.

CC ?= gcc
WERROR ?= 0
SANITIZE ?= 0
FUZZ ?= 0
OPT ?= -O2
# The guest programs do not change with SANITIZE or FUZZ, and the tests
# find them under build/: all builds share build/workloads/.
ifeq ($(FUZZ),1)
# `make fuzz` builds itself again with FUZZ=1: the library and the
# harnesses of tests/fuzz/ with clang's libFuzzer, ASan and UBSan; a UBSan
# finding stops the harness like a crash, with its input saved.
CC := clang-14
BUILD := build-fuzz
WL_BUILD := build/workloads
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANENV :=
else ifeq ($(SANITIZE),1)
BUILD := build-san
WL_BUILD := build/workloads
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
# LeakSanitizer stays on: the suite and iovsim runs are leak-free, so any
# report is new.  UBSan findings stop the run with a stack.
SANENV := ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
BUILD := build
SANFLAGS :=
SANENV :=
endif

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

CFLAGS := -std=gnu11 $(OPT) -g $(WARNFLAGS) $(SANFLAGS) -I. $(PKG_CFLAGS) \
	$(EXTRA_CFLAGS)
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
include tests/fuzz/module.mk

LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRCS))

IOVSIM := $(BUILD)/iovsim
TESTBIN := $(BUILD)/tests/iovsim-tests

# Objects are rebuilt when the flags change (WERROR=1, OPT=-O0, ...): the
# flags are kept in a file that is rewritten only when they differ.
FLAGS_STAMP := $(BUILD)/cflags.stamp
FLAGS_NOW := $(CC) $(CFLAGS) $(LDLIBS)
ifneq ($(FLAGS_NOW),$(shell cat $(FLAGS_STAMP) 2>/dev/null))
$(shell mkdir -p $(BUILD) && echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))
endif
# The source revision each traced run records (runs.git_version): a file
# that changes with it, so that machine.o is rebuilt after each commit.
GIT_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
VERSION_STAMP := $(BUILD)/git-version.stamp
ifneq ($(GIT_VERSION),$(shell cat $(VERSION_STAMP) 2>/dev/null))
$(shell mkdir -p $(BUILD) && echo '$(GIT_VERSION)' > $(VERSION_STAMP))
endif
$(BUILD)/sim/machine.o: $(VERSION_STAMP)
$(BUILD)/sim/machine.o: CFLAGS += -DSIM_GIT_VERSION='"$(GIT_VERSION)"'

$(BUILD)/%.o: %.c $(BUILD)/config.mk $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(IOVSIM): $(LIB_OBJS) $(BUILD)/sim/main.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(TESTBIN): $(LIB_OBJS) $(TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

all: $(IOVSIM) guests

check: all $(TESTBIN)
	$(SANENV) $(TESTBIN)

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

# make fuzz FUZZ_SECONDS=N: each harness of tests/fuzz/ for N seconds, one
# after the other (mk/fuzz.sh); crash inputs go to fuzz-crashes/TARGET/.
FUZZ_SECONDS ?= 60
ifeq ($(FUZZ),1)
fuzz: $(FUZZ_BINS)
	@sh mk/fuzz.sh $(FUZZ_SECONDS) $(BUILD) $(FUZZ_TARGETS)
else
fuzz: all
	$(MAKE) FUZZ=1 fuzz
endif

bench: all
	@sh mk/bench.sh $(IOVSIM)

clean:
	rm -rf build build-san build-fuzz

.PHONY: all check difftest demo bench clean guests fuzz

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILD)/sim/main.d \
	$(FUZZ_OBJS:.o=.d)
