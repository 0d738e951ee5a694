# analysis/: reports over trace databases (`iovsim report`).
LIB_SRCS += $(wildcard analysis/*.c)
