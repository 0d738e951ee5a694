# tests/hostile/: misbehaving guests, each a small assembly program
# tests/hostile/guests/NAME.S linked with guests/lib.S into
# $(BUILD)/tests/hostile/NAME.elf (static ELF64 ET_EXEC at 1 MiB, with the
# workloads' flags and linker script), built by `guests` and so before
# `make check` runs tests/hostile/test-hostile.c.  Included by
# tests/module.mk, after workloads/module.mk (GUEST_* come from there).

HOSTILE_DIR := tests/hostile
HOSTILE_BUILD := $(BUILD)/tests/hostile
HOSTILE_GUESTS := $(sort $(filter-out lib,$(basename $(notdir \
	$(wildcard $(HOSTILE_DIR)/guests/*.S)))))
HOSTILE_ELFS := $(patsubst %,$(HOSTILE_BUILD)/%.elf,$(HOSTILE_GUESTS))

$(HOSTILE_BUILD)/obj/%.o: $(HOSTILE_DIR)/guests/%.S \
		$(HOSTILE_DIR)/hostile.h $(HOSTILE_DIR)/module.mk
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -I. -c $< -o $@

$(HOSTILE_BUILD)/%.elf: $(HOSTILE_BUILD)/obj/%.o $(HOSTILE_BUILD)/obj/lib.o \
		$(GUEST_LDSCRIPT)
	$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-T,$(GUEST_LDSCRIPT) $< \
		$(HOSTILE_BUILD)/obj/lib.o -o $@

.SECONDARY: $(patsubst %,$(HOSTILE_BUILD)/obj/%.o,$(HOSTILE_GUESTS) lib)

guests: $(HOSTILE_ELFS)
