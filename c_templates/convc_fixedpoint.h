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

/* ---- gemmlowp fixed point used by TFLM's int8 Softmax (raw int32 values) ---- */

/* SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0: saturating left shift. */
static inline int32_t convc_sat_shl(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)(uint32_t)((uint64_t)(uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), FixedPoint<0> in and out. */
static inline int32_t convc_exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668, one_third = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = convc_srdhm(x, x);
    const int32_t x3 = convc_srdhm(x2, x);
    const int32_t x4 = convc_srdhm(x2, x2);
    const int32_t x4_over_4 = convc_rdbpot(x4, 2);
    const int32_t poly = convc_rdbpot(convc_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + convc_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0: FixedPoint<5> in (raw), FixedPoint<0> out. */
static inline int32_t convc_exp_on_negative_values(int32_t a)
{
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t one_quarter = 1 << 24;
    const int32_t a_mod = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = a_mod - a;
    int32_t result = convc_exp_quarter(convc_sat_shl(a_mod, 5));
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if (remainder & (1 << (24 + k))) result = convc_srdhm(result, mult[k]);
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1): FixedPoint<0> in and out (Newton-Raphson, 3 steps). */
static inline int32_t convc_one_over_one_plus_x(int32_t a)
{
    const int64_t s = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((s + (s >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + convc_srdhm(half_denominator, -1010580540);
    int32_t k;
    for (k = 0; k < 3; ++k) {
        const int32_t one_minus = (1 << 29) - convc_srdhm(half_denominator, x);
        x = x + convc_sat_shl(convc_srdhm(x, one_minus), 2);
    }
    return convc_sat_shl(x, 1);
}

static inline int32_t convc_clz32(uint32_t x)
{
    int32_t n = 0;
    while (n < 32 && !(x & 0x80000000u)) { x <<= 1; ++n; }
    return n;
}

#endif /* CONVC_FIXEDPOINT_H */
