# mmu/: guest paging and EPT.
LIB_SRCS += $(wildcard mmu/*.c)
