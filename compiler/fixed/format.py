"""Fixed-point formats like HLS `ap_fixed<W, I, Q, O>` and the integer arithmetic on them.

A value in `Fixed(W, I)` is stored as an integer q (W bits, two's complement when signed) and
means q · 2^-F with F = W − I fractional bits. I counts the sign bit, as in ap_fixed; I may be
negative (F > W: a small-magnitude tensor) but not larger than W.

Converting into a format (the destination's modes decide, as with ap_fixed assignment):
  rounding  trn       AP_TRN       drop the extra fractional bits: floor (toward −∞)
            rnd       AP_RND       round half up (toward +∞): floor(v / 2^s + 1/2)
            rnd_conv  AP_RND_CONV  round half to even (convergent)
  overflow  wrap      AP_WRAP      keep the low W bits (two's complement wrap-around)
            sat       AP_SAT       clamp to [min, max] of the format

Everything here is defined once, on int64 NumPy arrays; c_templates/fpga/convc_fixed.h mirrors
`shift_round`, `saturate` and `wrap` in C and tests/test_fpga.py ties the two bit for bit.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError

ROUNDING = {"trn": "AP_TRN", "rnd": "AP_RND", "rnd_conv": "AP_RND_CONV"}
OVERFLOW = {"wrap": "AP_WRAP", "sat": "AP_SAT"}
_ALIASES = {v.lower(): k for k, v in {**ROUNDING, **OVERFLOW}.items()} | {k: k for k in (*ROUNDING, *OVERFLOW)}
MAX_WIDTH = 32  # storage widths the generated C supports (int8/16/32_t)


@dataclass(frozen=True)
class Fixed:
    W: int
    I: int  # noqa: E741  (ap_fixed's name)
    signed: bool = True
    rounding: str = "rnd"
    overflow: str = "sat"

    def __post_init__(self):
        if not 1 <= self.W <= 62:  # storage formats are checked against MAX_WIDTH where they are parsed
            raise UsageError(f"fixed-point width {self.W} is out of range (1..{MAX_WIDTH})")
        if self.I > self.W:
            raise UsageError(f"fixed<{self.W},{self.I}>: integer bits exceed the width")
        if self.signed and self.W < 2:
            raise UsageError("a signed fixed-point format needs at least 2 bits")
        if self.rounding not in ROUNDING or self.overflow not in OVERFLOW:
            raise UsageError(f"bad rounding/overflow mode {self.rounding}/{self.overflow}")

    @property
    def F(self) -> int:  # noqa: N802
        return self.W - self.I

    @property
    def qmin(self) -> int:
        return -(1 << (self.W - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return (1 << (self.W - 1)) - 1 if self.signed else (1 << self.W) - 1

    @property
    def lo(self) -> float:
        return self.qmin * 2.0 ** -self.F

    @property
    def hi(self) -> float:
        return self.qmax * 2.0 ** -self.F

    @property
    def ctype(self) -> str:
        bits = 8 if self.W <= 8 else 16 if self.W <= 16 else 32
        return f"{'' if self.signed else 'u'}int{bits}_t"

    @property
    def np_dtype(self) -> str:
        bits = 8 if self.W <= 8 else 16 if self.W <= 16 else 32
        return f"{'' if self.signed else 'u'}int{bits}"

    def with_modes(self, rounding: str, overflow: str) -> "Fixed":
        return Fixed(self.W, self.I, self.signed, rounding, overflow)

    def __str__(self) -> str:
        base = f"{'fixed' if self.signed else 'ufixed'}<{self.W},{self.I}"
        return base + f",{ROUNDING[self.rounding]},{OVERFLOW[self.overflow]}>"

    def short(self) -> str:
        return f"{'fixed' if self.signed else 'ufixed'}<{self.W},{self.I}>"


_FMT = re.compile(r"^\s*(u?fixed)\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*)?(?:,\s*(\w+)\s*)?>\s*$", re.I)


def parse_fixed(text: str, rounding: str = "rnd", overflow: str = "sat", what: str = "format",
                max_width: int = MAX_WIDTH) -> Fixed:
    """`fixed<16,6>`, `ufixed<8,3>`, `fixed<12,4,AP_TRN,AP_WRAP>` (modes: AP names or trn/rnd/rnd_conv/wrap/sat)."""
    m = _FMT.match(str(text))
    if not m:
        raise UsageError(f"{what} '{text}': expected fixed<W,I> (e.g. fixed<16,6>), optionally "
                         f"fixed<W,I,AP_RND|AP_TRN|AP_RND_CONV,AP_SAT|AP_WRAP>")
    kind, w, i, q, o = m.groups()
    if not 1 <= int(w) <= max_width:
        raise UsageError(f"{what} '{text}': width {w} is out of range (1..{max_width})")
    for mode in (q, o):
        if mode is not None and mode.lower() not in _ALIASES:
            raise UsageError(f"{what} '{text}': unknown mode '{mode}' (rounding: {', '.join(ROUNDING.values())}; "
                             f"overflow: {', '.join(OVERFLOW.values())})")
    if q is not None:
        rounding = _ALIASES[q.lower()]
        if rounding not in ROUNDING:
            raise UsageError(f"{what} '{text}': '{q}' is not a rounding mode")
    if o is not None:
        overflow = _ALIASES[o.lower()]
        if overflow not in OVERFLOW:
            raise UsageError(f"{what} '{text}': '{o}' is not an overflow mode")
    return Fixed(int(w), int(i), kind.lower() == "fixed", rounding, overflow)


def int_bits_for(max_abs: float, W: int, signed: bool = True) -> int:
    """Smallest I (sign bit included) whose range holds ±max_abs: 2^(I-1) > max_abs, capped at W."""
    if not max_abs > 0:
        return min(1, W)
    i = math.floor(math.log2(max_abs)) + 1 + (1 if signed else 0)
    return max(min(i, W), -(MAX_WIDTH - 1))


# ---- the arithmetic, on int64 arrays ------------------------------------------------------

def shift_round(v, s: int, rounding: str) -> np.ndarray:
    """v · 2^-s rounded to an integer with `rounding` (s > 0), or v · 2^-s exactly (s <= 0)."""
    v = np.asarray(v, np.int64)
    if s <= 0:
        return v * np.int64(1 << -s)
    if rounding == "trn":
        return v >> s
    if rounding == "rnd":
        return (v + np.int64(1 << (s - 1))) >> s
    if rounding == "rnd_conv":
        q = v >> s
        r = v & np.int64((1 << s) - 1)
        half = np.int64(1 << (s - 1))
        return q + ((r > half) | ((r == half) & ((q & 1) == 1))).astype(np.int64)
    raise ValueError(rounding)


def div_round(n, d, rounding: str) -> np.ndarray:
    """n / d rounded to an integer with `rounding`, for n >= 0 and d > 0 (Softmax's normalization)."""
    n = np.asarray(n, np.int64)
    d = np.asarray(d, np.int64)
    q, r = n // d, n % d
    if rounding == "trn":
        return q
    if rounding == "rnd":
        return q + (2 * r >= d).astype(np.int64)
    if rounding == "rnd_conv":
        return q + ((2 * r > d) | ((2 * r == d) & ((q & 1) == 1))).astype(np.int64)
    raise ValueError(rounding)


def saturate(v, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.asarray(v, np.int64), lo, hi)


def wrap(v, W: int, signed: bool) -> np.ndarray:
    """The low W bits of v, read as a W-bit two's complement (signed) or unsigned integer."""
    u = np.asarray(v, np.int64) & np.int64((1 << W) - 1)
    if signed:
        u = np.where(u >= (1 << (W - 1)), u - np.int64(1 << W), u)
    return u


def overflow(v, fmt: Fixed) -> np.ndarray:
    return saturate(v, fmt.qmin, fmt.qmax) if fmt.overflow == "sat" else wrap(v, fmt.W, fmt.signed)


def convert(v, frac_from: int, fmt: Fixed) -> np.ndarray:
    """An integer with `frac_from` fractional bits → `fmt` (its rounding, then its overflow)."""
    return overflow(shift_round(v, frac_from - fmt.F, fmt.rounding), fmt)


def out_of_range(v, frac_from: int, fmt: Fixed) -> np.ndarray:
    """Which elements overflow `fmt` on conversion (after rounding)."""
    r = shift_round(v, frac_from - fmt.F, fmt.rounding)
    return (r < fmt.qmin) | (r > fmt.qmax)


def quantize(x, fmt: Fixed) -> np.ndarray:
    """Real values → integers of `fmt`. The real value is scaled exactly (float64 times a power of
    two), then rounded with the format's rounding mode applied to the real number and overflowed."""
    x = np.asarray(x, np.float64)
    if not np.all(np.isfinite(x)):
        raise UsageError("cannot quantize NaN or infinity to fixed point")
    y = x * 2.0 ** fmt.F
    if fmt.rounding == "trn":
        q = np.floor(y)
    elif fmt.rounding == "rnd":
        q = np.floor(y + 0.5)
    else:
        q = np.round(y)  # NumPy rounds half to even
    # clamp to the int64 range before the cast (an absurd value must not wrap through float → int)
    q = np.clip(q, -2.0 ** 62, 2.0 ** 62).astype(np.int64)
    return overflow(q, fmt)


def to_real(q, fmt_or_frac) -> np.ndarray:
    frac = fmt_or_frac.F if isinstance(fmt_or_frac, Fixed) else int(fmt_or_frac)
    return np.asarray(q, np.int64).astype(np.float64) * 2.0 ** -frac
