/* convc fixed-point arithmetic: TFLM's int8 requantization (default double rounding), C99.
   Mirrors convc's compiler/quantize/fixedpoint.py bit for bit (tested). No state, no libc. */
#ifndef CONVC_FIXEDPOINT_H
#define CONVC_FIXEDPOINT_H

#include <stdint.h>

/* SaturatingRoundingDoublingHighMul: (a*b*2 + 2^31) >> 32 with TFLM's rounding; saturates INT32_MIN^2. */
static inline int32_t convc_srdhm(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: x / 2^exponent, to nearest, ties away from zero (0 <= exponent <= 31). */
static inline int32_t convc_rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t rem = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (rem > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: x * M * 2^(shift - 31), TFLM double rounding. */
static inline int32_t convc_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)(uint32_t)((uint64_t)(uint32_t)x << left);
    return convc_rdbpot(convc_srdhm(shifted, multiplier), right);
}

static inline int8_t convc_clamp_i8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

#endif /* CONVC_FIXEDPOINT_H */
