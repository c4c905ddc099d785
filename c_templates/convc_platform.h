/* convc: placement macros. Define them before including (or with -D) to put weights and
   the arena in specific memory banks, e.g. -DCONVC_WEIGHTS_SECTION='__attribute__((section(".qspi")))'. */
#ifndef CONVC_PLATFORM_H
#define CONVC_PLATFORM_H

#ifndef CONVC_WEIGHTS_SECTION
#define CONVC_WEIGHTS_SECTION
#endif
#ifndef CONVC_ARENA_SECTION
#define CONVC_ARENA_SECTION
#endif
#ifndef CONVC_ALIGNED
#if defined(__GNUC__) || defined(__clang__)
#define CONVC_ALIGNED __attribute__((aligned(16)))
#else
#define CONVC_ALIGNED
#endif
#endif

#endif /* CONVC_PLATFORM_H */
