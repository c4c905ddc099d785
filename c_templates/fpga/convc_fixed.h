/* convc fixed-point helpers for the FPGA target: the C mirror of compiler/fixed/format.py.
 * Values are integers with a known number of fractional bits; the generator chooses every shift,
 * bound and width. Right shifts of negative values are arithmetic (floor) as in gcc, clang and
 * HLS compilers; left shifts are written as multiplications (no undefined behaviour). */
#ifndef CONVC_FIXED_H
#define CONVC_FIXED_H

#include <stdint.h>

/* HLS pragmas: active under high-level synthesis (__SYNTHESIS__ is defined by Vitis/Vivado HLS),
 * nothing for gcc, so host builds stay -Wall -Wextra -Werror clean. */
#ifdef __SYNTHESIS__
#define CONVC_HLS(x) _Pragma(#x)
#else
#define CONVC_HLS(x)
#endif

/* v * 2^-s, s > 0, truncated toward minus infinity (AP_TRN) */
static inline int64_t convc_fx_shr_trn(int64_t v, int s)
{
    return v >> s;
}

/* v * 2^-s, s > 0, rounded half up (AP_RND) */
static inline int64_t convc_fx_shr_rnd(int64_t v, int s)
{
    return (v + ((int64_t)1 << (s - 1))) >> s;
}

/* v * 2^-s, s > 0, rounded half to even (AP_RND_CONV) */
static inline int64_t convc_fx_shr_rnd_conv(int64_t v, int s)
{
    const int64_t q = v >> s;
    const int64_t r = (int64_t)((uint64_t)v & (((uint64_t)1 << s) - 1u));
    const int64_t half = (int64_t)1 << (s - 1);
    return q + ((r > half || (r == half && (q & 1))) ? 1 : 0);
}

/* v * 2^s, s >= 0 (exact: the generator sizes values so this cannot overflow) */
static inline int64_t convc_fx_shl(int64_t v, int s)
{
    return v * ((int64_t)1 << s);
}

/* n / d, n >= 0, d > 0: truncated, rounded half up, rounded half to even */
static inline int64_t convc_fx_div_trn(int64_t n, int64_t d)
{
    return n / d;
}

static inline int64_t convc_fx_div_rnd(int64_t n, int64_t d)
{
    return n / d + ((2 * (n % d) >= d) ? 1 : 0);
}

static inline int64_t convc_fx_div_rnd_conv(int64_t n, int64_t d)
{
    const int64_t q = n / d, r2 = 2 * (n % d);
    return q + ((r2 > d || (r2 == d && (q & 1))) ? 1 : 0);
}

/* clamp to [lo, hi] (AP_SAT) */
static inline int64_t convc_fx_sat(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* the low w bits of v as a signed w-bit two's complement number (AP_WRAP, signed), 1 <= w <= 62 */
static inline int64_t convc_fx_wrap_s(int64_t v, int w)
{
    const uint64_t u = (uint64_t)v & (((uint64_t)1 << w) - 1u);
    return (u >> (w - 1)) ? (int64_t)u - ((int64_t)1 << w) : (int64_t)u;
}

/* the low w bits of v as an unsigned number (AP_WRAP, unsigned), 1 <= w <= 62 */
static inline int64_t convc_fx_wrap_u(int64_t v, int w)
{
    return (int64_t)((uint64_t)v & (((uint64_t)1 << w) - 1u));
}

#endif /* CONVC_FIXED_H */
