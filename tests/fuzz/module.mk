# tests/fuzz/: libFuzzer harnesses, one fuzz-TARGET.c each, and their seed
# corpora under corpus/TARGET/.  Built only by `make fuzz` (FUZZ=1: clang,
# into build-fuzz/fuzz/), never into the CUnit binary.  Included after the
# other fragments, so LIB_SRCS is complete.
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/fuzz-%.c,%, \
	$(wildcard tests/fuzz/fuzz-*.c)))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz-%,$(FUZZ_TARGETS))
# tiny-elf writes the guest programs of fuzz-cpu.
FUZZ_OBJS := $(patsubst %,$(BUILD)/tests/fuzz/fuzz-%.o,$(FUZZ_TARGETS)) \
	$(BUILD)/tests/sim/tiny-elf.o

$(BUILD)/fuzz/fuzz-%: $(BUILD)/tests/fuzz/fuzz-%.o \
		$(BUILD)/tests/sim/tiny-elf.o \
		$(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

.SECONDARY: $(FUZZ_OBJS)
