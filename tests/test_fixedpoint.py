"""TFLM requantization arithmetic: Python (compiler/quantize/fixedpoint.py) on edge cases worked out
from TFLM's definitions, and the C header (c_templates/convc_fixedpoint.h) bit-exact against it."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from convc.compiler.codegen.c import TEMPLATE_DIR
from convc.compiler.quantize import fixedpoint as fp

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def test_quantize_multiplier_edges():
    assert fp.quantize_multiplier(0.0) == (0, 0)
    assert fp.quantize_multiplier(0.5) == (1 << 30, 0)
    assert fp.quantize_multiplier(1.0) == (1 << 30, 1)
    assert fp.quantize_multiplier(0.75) == (3 << 29, 0)
    assert fp.quantize_multiplier(0.25) == (1 << 30, -1)
    # q·2^31 rounds up to 2^31: halve M and bump the shift
    assert fp.quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)
    # shift below -31 flushes to zero
    assert fp.quantize_multiplier(2.0 ** -40) == (0, 0)
    # ties round away from zero: 0.5 + 2^-32 → q·2^31 = 2^30 + 0.5 → 2^30 + 1
    assert fp.quantize_multiplier(0.5 + 2.0 ** -32) == ((1 << 30) + 1, 0)
    for r in (0.0123, 3.7, 1e-5, 0.999999):
        m, s = fp.quantize_multiplier(r)
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - r) <= r * 2.0 ** -30


def test_srdhm_edges():
    f = lambda a, b: int(fp.saturating_rounding_doubling_high_mul(a, b))  # noqa: E731
    assert f(I32_MIN, I32_MIN) == I32_MAX  # the only overflow case saturates
    assert f(I32_MIN, I32_MAX) == -I32_MAX
    assert f(1 << 30, 1 << 30) == 1 << 29
    # TFLM's nudge is 2^30 for ab >= 0 and 1 - 2^30 below, then truncation toward zero:
    # positive halves round up, negative halves round toward zero
    assert f(-1, 1 << 30) == 0  # -0.5 → 0
    assert f(1, 1 << 30) == 1  # +0.5 → 1
    assert f(-3, 1 << 30) == -1  # -1.5 → -1
    assert f(3, 1 << 30) == 2  # 1.5 → 2
    assert f(12345, 0) == 0


def test_rounding_divide_by_pot_edges():
    f = lambda x, e: int(fp.rounding_divide_by_pot(x, e))  # noqa: E731
    assert [f(x, 1) for x in (5, 3, 1, -1, -3, -5, -4, 4)] == [3, 2, 1, -1, -2, -3, -2, 2]  # halves away from 0
    assert f(7, 0) == 7 and f(-7, 0) == -7
    assert f(I32_MIN, 31) == -1 and f(I32_MAX, 31) == 1
    assert f(I32_MIN, 1) == -(1 << 30)
    assert f(-(1 << 30), 31) == -1  # -0.5 → -1 (ties away from zero)
    assert f(1 << 30, 31) == 1
    assert f(-(1 << 30) + 1, 31) == 0
    with pytest.raises(ValueError):
        fp.rounding_divide_by_pot(1, 32)


def test_mbqm_edges():
    f = lambda x, m, s: int(fp.multiply_by_quantized_multiplier(x, m, s))  # noqa: E731
    m, s = fp.quantize_multiplier(0.5)
    # shift 0: only SRDHM rounds, and its negative halves go toward zero
    assert [f(x, m, s) for x in (3, -3, 5, -5, 0)] == [2, -1, 3, -2, 0]
    m, s = fp.quantize_multiplier(2.0 ** -10)  # M = 2^30, shift = -9
    assert f(512, m, s) == 1 and f(-512, m, s) == -1  # exact halves after SRDHM: RDBPOT goes away from 0
    # double rounding: 511/1024 → SRDHM gives 255.5 → 256, then 256/512 = 0.5 → 1 (single rounding gives 0)
    assert f(511, m, s) == 1 and f(-511, m, s) == 0
    m, s = fp.quantize_multiplier(3.0)  # positive shift: x << 2 first
    assert f(100, m, s) == 300 and f(-100, m, s) == -300
    assert f(I32_MIN, 1 << 30, 0) == -(1 << 30)
    assert f(I32_MAX, I32_MAX, 0) == I32_MAX - 1  # (2^31-1)^2 / 2^31 = 2^31 - 2 + 2^-31


def _random_cases(n: int = 200_000, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.integers(I32_MIN, I32_MAX, n, endpoint=True, dtype=np.int64)
    x[: n // 4] = rng.integers(-(1 << 20), 1 << 20, n // 4)  # accumulator-sized values
    m = rng.integers(1 << 30, 1 << 31, n, dtype=np.int64)
    s = rng.integers(-31, 1, n, dtype=np.int64)
    s[: n // 8] = rng.integers(0, 4, n // 8)
    x[: n // 8] = rng.integers(-(1 << 24), 1 << 24, n // 8)  # left shifts that do not overflow
    edge_x = [0, 1, -1, 2, -2, 3, -3, I32_MIN, I32_MAX, I32_MIN + 1, 1 << 30, -(1 << 30)]
    edge_m = [0, 1, I32_MAX, I32_MIN, 1 << 30, (1 << 30) + 1]
    edge_s = [0, -1, -31, -30, 1, 2]
    ex, em, es = (a.ravel() for a in np.meshgrid(edge_x, edge_m, edge_s, indexing="ij"))
    keep = ~((es > 0) & (np.abs(ex) > (1 << 28)))  # TFLM's x << left must not overflow int32
    return (np.concatenate([x, ex[keep]]).astype(np.int32), np.concatenate([m, em[keep]]).astype(np.int32),
            np.concatenate([s, es[keep]]).astype(np.int32))


C_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "convc_fixedpoint.h"
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb"), *g = fopen(argv[2], "wb");
    int32_t v[3], r[3];
    (void)argc;
    if (!f || !g) return 2;
    while (fread(v, sizeof v[0], 3, f) == 3) {
        int32_t e = v[2] < 0 ? -v[2] : v[2];
        r[0] = convc_mbqm(v[0], v[1], v[2]);
        r[1] = convc_srdhm(v[0], v[1]);
        r[2] = convc_rdbpot(v[0], e > 31 ? 31 : e);
        if (fwrite(r, sizeof r[0], 3, g) != 3) return 2;
    }
    fclose(f);
    return fclose(g) != 0;
}
"""


def test_c_header_bit_exact(tmp_path):
    x, m, s = _random_cases()
    (tmp_path / "drv.c").write_text(C_DRIVER)
    exe = tmp_path / "drv"
    subprocess.run(["cc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsanitize=undefined",
                    "-fno-sanitize-recover=all", f"-I{TEMPLATE_DIR}", "-o", str(exe), str(tmp_path / "drv.c")],
                   check=True)
    np.stack([x, m, s], axis=1).astype("<i4").tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    got = np.fromfile(tmp_path / "out.bin", "<i4").reshape(-1, 3)
    assert got.shape[0] == x.size
    np.testing.assert_array_equal(got[:, 0], fp.multiply_by_quantized_multiplier(x, m, s))
    np.testing.assert_array_equal(got[:, 1], fp.saturating_rounding_doubling_high_mul(x, m))
    np.testing.assert_array_equal(got[:, 2], fp.rounding_divide_by_pot(x, np.minimum(np.abs(s), 31)))


C_SOFTMAX_DRIVER = r"""
#include <stdio.h>
#include "convc_fixedpoint.h"
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb"), *g = fopen(argv[2], "wb");
    int32_t v, r[2];
    (void)argc;
    if (!f || !g) return 2;
    while (fread(&v, sizeof v, 1, f) == 1) {
        r[0] = convc_exp_on_negative_values(v < 0 ? v : -v);
        r[1] = convc_one_over_one_plus_x(v < 0 ? (v == INT32_MIN ? INT32_MAX : -v) : v);
        if (fwrite(r, sizeof r[0], 2, g) != 2) return 2;
    }
    fclose(f);
    return fclose(g) != 0;
}
"""


def test_c_softmax_pieces_bit_exact(tmp_path):
    """gemmlowp exp_on_negative_values and one_over_one_plus_x_for_x_in_0_1 (TFLM's int8 Softmax):
    the header against the Python on 100k random operands and the boundaries."""
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.integers(I32_MIN + 1, I32_MAX, 100_000), rng.integers(-(1 << 27), 1 << 27, 20_000),
                        [0, 1, -1, I32_MAX, I32_MIN + 1, 1 << 24, -(1 << 24), (1 << 24) - 1]]).astype(np.int32)
    (tmp_path / "drv.c").write_text(C_SOFTMAX_DRIVER)
    exe = tmp_path / "drv"
    subprocess.run(["cc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsanitize=undefined",
                    "-fno-sanitize-recover=all", f"-I{TEMPLATE_DIR}", "-o", str(exe), str(tmp_path / "drv.c")],
                   check=True)
    v.astype("<i4").tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    got = np.fromfile(tmp_path / "out.bin", "<i4").reshape(-1, 2)
    neg = np.where(v < 0, v, -v.astype(np.int64))
    pos = np.where(v < 0, -v.astype(np.int64), v)
    np.testing.assert_array_equal(got[:, 0], fp.exp_on_negative_values(neg))
    np.testing.assert_array_equal(got[:, 1], fp.one_over_one_plus_x_for_x_in_0_1(pos))
    assert fp.exp_on_negative_values(0) == I32_MAX  # exp(0) = 1
    assert abs(fp.exp_on_negative_values(-(1 << 26)) / 2 ** 31 - np.exp(-1)) < 1e-6  # exp(-1), input Q5.26
    assert abs(fp.one_over_one_plus_x_for_x_in_0_1(1 << 30) / 2 ** 31 - 2 / 3) < 1e-6  # 1 / 1.5
