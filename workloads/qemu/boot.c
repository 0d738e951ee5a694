/*
 * boot.c: the 64-bit half of the QEMU stub (see boot.S): copies the guest
 * ELF's PT_LOAD segments from multiboot module 0 to their p_paddr, zeroes
 * their BSS, and builds the iovsim loader's identity map of RAM (2 MiB
 * pages, present, writable, user) at the top of RAM.
 */
#include <stddef.h>
#include <stdint.h>

#define BOOT_PAGE 4096ull
#define BOOT_2M (2ull << 20)
#define BOOT_1G (1ull << 30)
#define BOOT_TABLE_FLAGS 0x7ull /* P | W | U */
#define BOOT_LEAF_FLAGS 0x87ull /* P | W | U | PS */
#define BOOT_ELF_PT_LOAD 1
#define BOOT_FAIL_STATUS 0x7f

struct boot_mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr;
};

struct boot_mb_module {
    uint32_t start, end, string, reserved;
};

struct boot_elf_header {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct boot_elf_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* What boot.S needs to enter the guest; offsets are used there. */
struct boot_result {
    uint64_t entry;
    uint64_t ram_size;
    uint64_t tables_base;
    uint64_t cr3;
};

struct boot_result *boot_main(uint32_t mb_info_addr);

extern char __load_start[];
static struct boot_result boot_result;

static void boot_fail(const char *msg)
{
    while (*msg != '\0') {
        __asm__ volatile("outb %0, $0xe9" : : "a"(*msg++));
    }
    __asm__ volatile("outl %0, $0xf4" : : "a"(BOOT_FAIL_STATUS));
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}

static void boot_copy(uint8_t *dst, const uint8_t *src, uint64_t n)
{
    while (n-- > 0) {
        *dst++ = *src++;
    }
}

static void boot_zero(uint8_t *dst, uint64_t n)
{
    while (n-- > 0) {
        *dst++ = 0;
    }
}

/*
 * Returns the RAM size given as "ram=MIB" on the module's command line
 * (run.sh passes it: QEMU's multiboot memory size leaves out what the
 * firmware reserves), or 0.
 */
static uint64_t boot_ram_from_cmdline(const char *s)
{
    uint64_t mib = 0;

    for (; *s != '\0'; s++) {
        if (s[0] == 'r' && s[1] == 'a' && s[2] == 'm' && s[3] == '=') {
            for (s += 4; *s >= '0' && *s <= '9'; s++) {
                mib = mib * 10 + (uint64_t)(*s - '0');
            }
            return mib << 20;
        }
    }
    return 0;
}

struct boot_result *boot_main(uint32_t mb_info_addr)
{
    const struct boot_mb_info *mbi = (void *)(uintptr_t)mb_info_addr;
    const struct boot_mb_module *mod;
    const struct boot_elf_header *eh;
    const uint8_t *image;
    uint64_t ram, npd, base, i;
    uint64_t *pml4, *pdpt, *pd;

    if (mbi->mods_count < 1) {
        boot_fail("qemu boot: no module\n");
    }
    mod = (const void *)(uintptr_t)mbi->mods_addr;
    image = (const void *)(uintptr_t)mod->start;
    eh = (const void *)image;
    if (eh->ident[0] != 0x7f || eh->ident[1] != 'E' || eh->ident[4] != 2) {
        boot_fail("qemu boot: module is not ELF64\n");
    }
    for (i = 0; i < eh->phnum; i++) {
        const struct boot_elf_phdr *ph =
            (const void *)(image + eh->phoff + i * eh->phentsize);

        if (ph->type != BOOT_ELF_PT_LOAD) {
            continue;
        }
        if (ph->paddr + ph->memsz > (uintptr_t)__load_start) {
            boot_fail("qemu boot: guest image overlaps the stub\n");
        }
        boot_copy((uint8_t *)(uintptr_t)ph->paddr, image + ph->offset,
                  ph->filesz);
        boot_zero((uint8_t *)(uintptr_t)(ph->paddr + ph->filesz),
                  ph->memsz - ph->filesz);
    }

    ram = boot_ram_from_cmdline((const char *)(uintptr_t)mod->string);
    if (ram == 0) {
        boot_fail("qemu boot: no ram=MIB on the module's command line\n");
    }
    npd = (ram + BOOT_1G - 1) / BOOT_1G;
    base = (ram & ~(BOOT_PAGE - 1)) - (2 + npd) * BOOT_PAGE;
    if (base < mod->end) {
        boot_fail("qemu boot: not enough RAM\n");
    }
    pml4 = (uint64_t *)(uintptr_t)base;
    pdpt = pml4 + 512;
    pd = pdpt + 512;
    boot_zero((uint8_t *)pml4, (2 + npd) * BOOT_PAGE);
    pml4[0] = (uintptr_t)pdpt | BOOT_TABLE_FLAGS;
    for (i = 0; i < npd; i++) {
        pdpt[i] = (uintptr_t)(pd + 512 * i) | BOOT_TABLE_FLAGS;
    }
    for (i = 0; i * BOOT_2M < ram; i++) {
        pd[i] = i * BOOT_2M | BOOT_LEAF_FLAGS;
    }

    boot_result.entry = eh->entry;
    boot_result.ram_size = ram;
    boot_result.tables_base = base;
    boot_result.cr3 = base;
    return &boot_result;
}
