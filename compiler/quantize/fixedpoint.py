"""TFLM's integer requantization arithmetic, defined once (vectorized NumPy, int64 intermediates).

Mirrors tensorflow/lite/kernels/internal/common.h and quantization_util.cc with TFLM's default
double rounding; c_templates/convc_fixedpoint.h is the same arithmetic in C99, and the tests tie
the two together bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real multiplier (double) → (int32 multiplier M, shift) with
    real ≈ M · 2^(shift − 31). Zero gives (0, 0); shifts below −31 flush to (0, 0)."""
    real = float(real)
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    frac = q * (1 << 31)  # TfLiteRound (std::round): half away from zero, not Python's round-half-even
    m = int(math.floor(abs(frac) + 0.5)) * (1 if frac >= 0 else -1)
    if m == (1 << 31):
        m //= 2
        shift += 1
    if shift < -31:
        m, shift = 0, 0
    return m, shift


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel QuantizeMultiplier → (int32 multipliers, int32 shifts)."""
    pairs = [quantize_multiplier(r) for r in np.ravel(np.asarray(reals, np.float64))]
    return (np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul on int32 operands (broadcasting), int64 result holding int32 values."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    s = ab + nudge
    # C integer division truncates toward zero; NumPy floor-divides: correct negative quotients
    q = np.where(s >= 0, s >> 31, -((-s) >> 31))
    return np.where(overflow, np.int64(INT32_MAX), q)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31)."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    if np.any((e < 0) | (e > 31)):
        raise ValueError("rounding_divide_by_pot: exponent must be in [0, 31]")
    mask = (np.int64(1) << e) - 1
    rem = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> e) + (rem > threshold).astype(np.int64)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(x, M, shift) = RoundingDivideByPOT(SRDHM(x · 2^left, M), right)
    with left = max(shift, 0), right = max(−shift, 0). x int32 values; int64 array out (int32 range)."""
    x = np.asarray(x, np.int64)
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    # x · 2^left is computed in int32 in TFLM (it does not overflow for in-range models); wrap like C would
    shifted = _wrap_int32(x << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def _wrap_int32(v: np.ndarray) -> np.ndarray:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def requantize(acc, multiplier, shift, zero_point: int, act_min: int, act_max: int) -> np.ndarray:
    """The int8 output stage shared by conv/fully-connected: MBQM, + zero point, clamp; int8 out."""
    y = multiply_by_quantized_multiplier(acc, multiplier, shift) + int(zero_point)
    return np.clip(y, act_min, act_max).astype(np.int8)


def round_half_away(x) -> np.ndarray:
    """TfLiteRound / std::round: to nearest, ties away from zero."""
    x = np.asarray(x, np.float64)  # float32 inputs widen exactly, so |x| + 0.5 cannot round
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# ---- gemmlowp fixed-point pieces of TFLM's int8 Softmax (reference_ops::Softmax) ---------------
# FixedPoint<int32, I> values are carried as their int32 raw values (int64 arrays); products use
# SRDHM, sums plain int32 arithmetic, exactly as gemmlowp/fixedpoint.h does.

SOFTMAX_DIFF_INT_BITS = 5  # kScaledDiffIntegerBits
SOFTMAX_ACCUM_INT_BITS = 12  # kAccumulationIntegerBits


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent>: a saturating left shift, or RDBPOT."""
    x = np.asarray(x, np.int64)
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, _wrap_int32(x << exponent)))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    srdhm = saturating_rounding_doubling_high_mul
    constant_term, one_third = 1895147668, 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(srdhm(x4_over_4 + x3, one_third) + x2, -1)
    return constant_term + srdhm(constant_term, x + poly)


def exp_on_negative_values(a) -> np.ndarray:
    """gemmlowp exp_on_negative_values for FixedPoint<int32, 5> input (raw), FixedPoint<int32, 0> out."""
    a = np.asarray(a, np.int64)
    frac_bits = 31 - SOFTMAX_DIFF_INT_BITS
    one_quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, SOFTMAX_DIFF_INT_BITS))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
                                 (2, 39332535), (3, 720401), (4, 242)):
        bit = (remainder & (1 << (frac_bits + exponent))) != 0
        result = np.where(bit, saturating_rounding_doubling_high_mul(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 on FixedPoint<int32, 0> raw values."""
    srdhm = saturating_rounding_doubling_high_mul
    a = np.asarray(a, np.int64)
    s = a + INT32_MAX  # RoundingHalfSum(a, F0::One())
    half_denominator = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))
    x = 1515870810 + srdhm(half_denominator, -1010580540)  # 48/17 − 32/17·d, FixedPoint<2>
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_denominator, x)
        x = x + saturating_rounding_multiply_by_pot(srdhm(x, one_minus), 2)
    return saturating_rounding_multiply_by_pot(x, 1)  # Rescale<0>(ExactMulByPot<-1>(x))


def softmax_params(input_scale: float, beta: float = 1.0) -> dict:
    """TFLM PreprocessSoftmaxScaling + CalculateInputRadius (double rounding build)."""
    real = min(float(beta) * float(input_scale) * (1 << (31 - SOFTMAX_DIFF_INT_BITS)), (1 << 31) - 1.0)
    m, left = quantize_multiplier(real)
    if left < 0:
        raise ValueError("softmax input multiplier below one")
    radius = math.floor(((1 << SOFTMAX_DIFF_INT_BITS) - 1) * (1 << (31 - SOFTMAX_DIFF_INT_BITS)) / (1 << left))
    return {"multiplier": m, "left_shift": left, "diff_min": -int(radius)}


def softmax_int8(x, multiplier: int, left_shift: int, diff_min: int) -> np.ndarray:
    """TFLM reference_ops::Softmax for int8 in / int8 out (scale 1/256, zero point −128) over the last axis."""
    x = np.asarray(x, np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    ok = diff >= diff_min
    scaled = saturating_rounding_doubling_high_mul(_wrap_int32(diff << left_shift), multiplier)
    exps = exp_on_negative_values(scaled)
    contrib = np.where(ok, rounding_divide_by_pot(exps, SOFTMAX_ACCUM_INT_BITS), 0)
    sum_of_exps = contrib.sum(axis=-1, keepdims=True)
    headroom_plus_one = 32 - np.floor(np.log2(sum_of_exps)).astype(np.int64) - 1  # count leading zeros
    num_bits_over_unit = SOFTMAX_ACCUM_INT_BITS - headroom_plus_one
    shifted_sum_minus_one = _wrap_int32((sum_of_exps << headroom_plus_one) - (1 << 31))
    shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    # the shift exceeds 31 only when ≥ 512 entries tie for the maximum: then |value| < 2^31 ≤ 2^(e−1)
    # and the rounded quotient is 0 (TFLM shifts an int32 by ≥ 32 there, which C leaves undefined)
    e = np.broadcast_to(num_bits_over_unit + 31 - 8, exps.shape)
    q = saturating_rounding_doubling_high_mul(shifted_scale, exps)
    out = np.where(e > 31, 0, rounding_divide_by_pot(q, np.minimum(e, 31))) - 128
    return np.where(ok, np.clip(out, -128, 127), -128).astype(np.int8)
