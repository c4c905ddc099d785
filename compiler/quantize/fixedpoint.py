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
