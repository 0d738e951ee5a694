# workloads/: freestanding guest programs, their runtime, their host builds
# and the benchmark programs.  Included by the top Makefile, which provides
# CC, BUILD and WARNFLAGS.  Everything here is built under
# $(BUILD)/workloads/ and is a prerequisite of `guests`:
#   guest/NAME-O{0,1,2,3}.elf  each workloads/tests/NAME.c at four levels
#   host/NAME                  host build of each `host` program of
#                              workloads.cfg (gcc -O2, runtime/host.c)
#   bench/NAME.elf             each workloads/bench/NAME.c at -O2
# The guest ABI and the flags' reasons are in workloads/README.md.

WL_DIR := workloads
WL_BUILD ?= $(BUILD)/workloads
WL_OPT_LEVELS := O0 O1 O2 O3

GUEST_CC ?= $(CC)
GUEST_AR ?= ar
GUEST_OBJCOPY ?= objcopy
# -mno-red-zone: exceptions at CPL 0 push onto the interrupted stack.
# -mgeneral-regs-only: the CPU has no SSE or x87.
GUEST_CFLAGS ?= -std=gnu11 -g -m64 -ffreestanding -mno-red-zone \
	-mgeneral-regs-only -fno-pic -fno-pie -fno-stack-protector \
	-fcf-protection=none -fno-asynchronous-unwind-tables \
	-fno-unwind-tables
GUEST_CPPFLAGS := -DRT_GUEST -I$(WL_DIR)/runtime
GUEST_LDFLAGS ?= -m64 -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
GUEST_LIBS := -lgcc
# The runtime must not have its own loops turned into memcpy/memset calls.
GUEST_RT_CFLAGS := -fno-tree-loop-distribute-patterns
GUEST_LDSCRIPT := $(WL_DIR)/guest.ld

HOST_CC ?= $(CC)
HOST_CFLAGS ?= -std=gnu11 -O2 -g

WL_RT_SRCS := runtime/vectors.S runtime/init.c runtime/trap.c \
	runtime/console.c runtime/format.c runtime/string.c runtime/paging.c \
	runtime/int128.c runtime/timer.c runtime/lapic.c
WL_RT_HOST_SRCS := runtime/format.c runtime/host.c

# Program names: every workloads/tests/*.c runs in the guest; the `host`
# lines of workloads.cfg are the portable ones, also built for the host.
GUEST_PROGS += $(sort $(basename $(notdir $(wildcard $(WL_DIR)/tests/*.c))))
BENCH_PROGS += $(sort $(basename $(notdir $(wildcard $(WL_DIR)/bench/*.c))))
WL_HOST_PROGS := $(shell awk '$$1 !~ /^\#/ && $$2 == "host" { print $$1 }' \
	$(WL_DIR)/workloads.cfg)

WL_GUEST_ELFS := $(foreach l,$(WL_OPT_LEVELS), \
	$(patsubst %,$(WL_BUILD)/guest/%-$(l).elf,$(GUEST_PROGS)))
WL_HOST_BINS := $(patsubst %,$(WL_BUILD)/host/%,$(WL_HOST_PROGS))
WL_BENCH_ELFS := $(patsubst %,$(WL_BUILD)/bench/%.elf,$(BENCH_PROGS))

guests: $(WL_GUEST_ELFS) $(WL_HOST_BINS) $(WL_BENCH_ELFS)

# One set of rules per optimisation level: objects under guest/LEVEL/,
# the runtime archive librt-LEVEL.a, and the linked programs.
define WL_LEVEL_RULES
$(WL_BUILD)/guest/$(1)/%.o: $(WL_DIR)/%.c $(WL_DIR)/module.mk
	@mkdir -p $$(@D)
	$$(GUEST_CC) $$(GUEST_CFLAGS) -$(1) $$(WARNFLAGS) $$(GUEST_CPPFLAGS) \
		$$(if $$(filter runtime/%,$$*),$$(GUEST_RT_CFLAGS)) \
		-MMD -MP -c $$< -o $$@

$(WL_BUILD)/guest/$(1)/%.o: $(WL_DIR)/%.S $(WL_DIR)/module.mk
	@mkdir -p $$(@D)
	$$(GUEST_CC) $$(GUEST_CFLAGS) $$(GUEST_CPPFLAGS) -MMD -MP -c $$< -o $$@

$(WL_BUILD)/guest/librt-$(1).a: \
		$(patsubst %,$(WL_BUILD)/guest/$(1)/%.o,$(basename $(WL_RT_SRCS)))
	@rm -f $$@
	$$(GUEST_AR) rcs $$@ $$^

$(WL_BUILD)/guest/%-$(1).elf: $(WL_BUILD)/guest/$(1)/tests/%.o \
		$(WL_BUILD)/guest/$(1)/runtime/crt0.o \
		$(WL_BUILD)/guest/librt-$(1).a $(GUEST_LDSCRIPT)
	@mkdir -p $$(@D)
	$$(GUEST_CC) $$(GUEST_LDFLAGS) -Wl,-T,$(GUEST_LDSCRIPT) \
		$(WL_BUILD)/guest/$(1)/runtime/crt0.o $$< \
		$(WL_BUILD)/guest/librt-$(1).a $$(GUEST_LIBS) -o $$@
endef
$(foreach l,$(WL_OPT_LEVELS),$(eval $(call WL_LEVEL_RULES,$(l))))

$(WL_BUILD)/bench/%.elf: $(WL_BUILD)/guest/O2/bench/%.o \
		$(WL_BUILD)/guest/O2/runtime/crt0.o $(WL_BUILD)/guest/librt-O2.a \
		$(GUEST_LDSCRIPT)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-T,$(GUEST_LDSCRIPT) \
		$(WL_BUILD)/guest/O2/runtime/crt0.o $< \
		$(WL_BUILD)/guest/librt-O2.a $(GUEST_LIBS) -o $@

$(WL_BUILD)/host-obj/%.o: $(WL_DIR)/%.c $(WL_DIR)/module.mk
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $(WARNFLAGS) -I$(WL_DIR)/runtime \
		-MMD -MP -c $< -o $@

$(WL_BUILD)/host/%: $(WL_BUILD)/host-obj/tests/%.o \
		$(patsubst %.c,$(WL_BUILD)/host-obj/%.o,$(WL_RT_HOST_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) $^ -o $@

# Keep the objects make would otherwise treat as intermediate.
.SECONDARY: $(foreach l,$(WL_OPT_LEVELS), \
	$(patsubst %,$(WL_BUILD)/guest/$(l)/tests/%.o,$(GUEST_PROGS)) \
	$(WL_BUILD)/guest/$(l)/runtime/crt0.o) \
	$(patsubst %.c,$(WL_BUILD)/host-obj/%.o,$(WL_RT_HOST_SRCS)) \
	$(patsubst %,$(WL_BUILD)/guest/O2/bench/%.o,$(BENCH_PROGS)) \
	$(patsubst %,$(WL_BUILD)/host-obj/tests/%.o,$(WL_HOST_PROGS))

-include $(shell find $(WL_BUILD) -name '*.d' 2>/dev/null)

# The QEMU multiboot stub (workloads/qemu/): not part of `guests`; built by
# workloads/qemu/run.sh through `make workloads-qemu`.
WL_QEMU_BOOT := $(WL_BUILD)/qemu/boot.bin

$(WL_BUILD)/qemu/boot.elf: $(WL_DIR)/qemu/boot.S $(WL_DIR)/qemu/boot.c \
		$(WL_DIR)/qemu/boot.ld $(WL_DIR)/module.mk
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -O2 $(WARNFLAGS) $(GUEST_LDFLAGS) \
		-Wl,--no-warn-rwx-segments -Wl,-T,$(WL_DIR)/qemu/boot.ld \
		$(WL_DIR)/qemu/boot.S $(WL_DIR)/qemu/boot.c -o $@

$(WL_QEMU_BOOT): $(WL_BUILD)/qemu/boot.elf
	$(GUEST_OBJCOPY) -O binary $< $@

workloads-qemu: $(WL_QEMU_BOOT)

.PHONY: workloads-qemu
