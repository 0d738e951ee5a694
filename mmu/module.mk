# mmu/: guest paging (and EPT, later).
LIB_SRCS += $(wildcard mmu/*.c)
