"""FPGA fixed-point target: formats and their arithmetic (Python vs the C header, bit for bit),
the simulator vs the host build of the generated HLS C (0 mismatches), accuracy on the digits
example, overflow behaviour (saturate vs wrap) with independently computed integers, the CLI."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from models import const, make, vi
from onnx import helper as h

from convc.compiler.cli import main
from convc.compiler.codegen.c import TEMPLATE_DIR
from convc.compiler.driver import load_and_optimize
from convc.compiler.errors import UnsupportedError, UsageError
from convc.compiler.fixed import format as fx
from convc.compiler.fixed.assign import FixedOptions, assign
from convc.compiler.fixed.build import compile_fpga
from convc.compiler.fixed.resources import layer_costs
from convc.compiler.fixed.simulate import run_int
from convc.compiler.fixed.validate import validate_fpga

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"
CALIB = DIGITS / "digits_calib.npz"
TEST = DIGITS / "digits_test.npz"
CC = shutil.which("cc") or shutil.which("gcc")


# ---- formats ---------------------------------------------------------------------------------

def test_parse_fixed():
    f = fx.parse_fixed("fixed<16,6>")
    assert (f.W, f.I, f.F, f.signed, f.rounding, f.overflow) == (16, 6, 10, True, "rnd", "sat")
    assert (f.qmin, f.qmax, f.lo, f.hi) == (-32768, 32767, -32.0, 32767 / 1024)
    g = fx.parse_fixed("ufixed<8, 3, AP_TRN, AP_WRAP>")
    assert (g.signed, g.qmin, g.qmax, g.rounding, g.overflow, g.ctype) == (False, 0, 255, "trn", "wrap", "uint8_t")
    assert fx.parse_fixed("fixed<12,-2,rnd_conv>").F == 14
    for bad in ("fixed<16>", "fix<8,3>", "fixed<40,6>", "fixed<8,9>", "fixed<8,3,AP_SAT>", "fixed<8,3,AP_RND,AP_FOO>"):
        with pytest.raises(UsageError):
            fx.parse_fixed(bad)


def test_rounding_and_overflow_modes_by_hand():
    v = np.array([5, 3, 1, -1, -3, -5, 6, -6, 7, -7])  # halves (odd values) and non-halves at s = 1, 2
    assert fx.shift_round(v, 1, "trn").tolist() == [2, 1, 0, -1, -2, -3, 3, -3, 3, -4]  # floor
    assert fx.shift_round(v, 1, "rnd").tolist() == [3, 2, 1, 0, -1, -2, 3, -3, 4, -3]  # half up
    assert fx.shift_round(v, 1, "rnd_conv").tolist() == [2, 2, 0, 0, -2, -2, 3, -3, 4, -4]  # half to even
    assert fx.shift_round(v, 2, "rnd").tolist() == [1, 1, 0, 0, -1, -1, 2, -1, 2, -2]  # 1.25 1.0 .25 ... 1.5→2, -1.5→-1
    assert fx.shift_round(v, -2, "trn").tolist() == (v * 4).tolist()
    f8 = fx.Fixed(8, 4)
    w8 = fx.Fixed(8, 4, overflow="wrap")
    vals = np.array([127, 128, 200, -128, -129, -300, 0])
    assert fx.overflow(vals, f8).tolist() == [127, 127, 127, -128, -128, -128, 0]
    assert fx.overflow(vals, w8).tolist() == [127, -128, -56, -128, 127, -44, 0]  # v mod 256, read as signed
    assert fx.wrap(np.array([256 + 5, -1]), 8, False).tolist() == [5, 255]
    # quantize: real → integer with the format's rounding (half cases exact in binary)
    assert fx.quantize(np.array([0.03125, -0.03125, 0.09375]), fx.Fixed(8, 4)).tolist() == [1, 0, 2]  # x·16 = .5, -.5, 1.5
    assert fx.quantize(np.array([0.03125, -0.03125, 0.09375]), fx.Fixed(8, 4, rounding="rnd_conv")).tolist() == [0, 0, 2]
    assert fx.quantize(np.array([0.03125, -0.03125]), fx.Fixed(8, 4, rounding="trn")).tolist() == [0, -1]
    assert fx.div_round(np.array([5, 7, 6, 9, 10]), 4, "trn").tolist() == [1, 1, 1, 2, 2]
    assert fx.div_round(np.array([5, 7, 6, 9, 10]), 4, "rnd").tolist() == [1, 2, 2, 2, 3]  # 1.5 → 2, 2.5 → 3
    assert fx.div_round(np.array([5, 7, 6, 9, 10]), 4, "rnd_conv").tolist() == [1, 2, 2, 2, 2]  # 2.5 → 2
    assert fx.int_bits_for(3.5, 16) == 3 and fx.int_bits_for(4.0, 16) == 4 and fx.int_bits_for(0.3, 8) == 0


def test_c_header_bit_exact_vs_python(tmp_path):
    """convc_fixed.h against format.py on random values, every shift 1..20 and widths 2..32."""
    assert CC, "no C compiler: run scripts/setup.sh (gcc)"
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.integers(-(1 << 40), 1 << 40, 20000), rng.integers(-300, 300, 2000),
                        np.array([0, 1, -1, (1 << 40) - 1, -(1 << 40)])]).astype(np.int64)
    s = rng.integers(1, 21, v.size)
    w = rng.integers(2, 33, v.size)
    (tmp_path / "in.txt").write_text("\n".join(f"{a} {b} {c}" for a, b, c in zip(v, s, w)) + "\n")
    (tmp_path / "t.c").write_text(r'''
#include <stdio.h>
#include <inttypes.h>
#include "convc_fixed.h"
int main(void) {
    long long v; int s, w;
    while (scanf("%lld %d %d", &v, &s, &w) == 3) {
        int64_t lo = -((int64_t)1 << (w - 1)), hi = ((int64_t)1 << (w - 1)) - 1;
        int64_t n = v < 0 ? -v : v, d = 2 * s;  /* even divisors: many exact ties */
        printf("%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
               " %" PRId64 " %" PRId64 " %" PRId64 "\n",
               convc_fx_shr_trn(v, s), convc_fx_shr_rnd(v, s), convc_fx_shr_rnd_conv(v, s),
               convc_fx_sat(v, lo, hi), convc_fx_wrap_s(v, w), convc_fx_wrap_u(v, w), convc_fx_shl(v % 1000, s),
               convc_fx_div_trn(n, d), convc_fx_div_rnd(n, d), convc_fx_div_rnd_conv(n, d));
    }
    return 0;
}
''')
    subprocess.run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsanitize=undefined",
                    "-fno-sanitize-recover", "-I", str(TEMPLATE_DIR / "fpga"), "-o", str(tmp_path / "t"),
                    str(tmp_path / "t.c")], check=True)
    out = subprocess.run([str(tmp_path / "t")], stdin=open(tmp_path / "in.txt"), capture_output=True, text=True, check=True)
    got = np.array([[int(x) for x in line.split()] for line in out.stdout.splitlines()], np.int64)
    want = np.stack([
        np.array([fx.shift_round(a, b, "trn") for a, b in zip(v, s)]),
        np.array([fx.shift_round(a, b, "rnd") for a, b in zip(v, s)]),
        np.array([fx.shift_round(a, b, "rnd_conv") for a, b in zip(v, s)]),
        np.array([fx.saturate(a, -(1 << (c - 1)), (1 << (c - 1)) - 1) for a, c in zip(v, w)]),
        np.array([fx.wrap(a, c, True) for a, c in zip(v, w)]),
        np.array([fx.wrap(a, c, False) for a, c in zip(v, w)]),
        np.array([fx.shift_round(int(np.fmod(a, 1000)), -b, "trn") for a, b in zip(v, s)]),
        fx.div_round(np.abs(v), 2 * s, "trn"), fx.div_round(np.abs(v), 2 * s, "rnd"),
        fx.div_round(np.abs(v), 2 * s, "rnd_conv"),
    ], axis=1)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


# ---- the digits example --------------------------------------------------------------------------

def test_digits_fixed16_6_and_auto8():
    """fixed<16,6>: within 0.5 point of float; auto<8>: within 2 points; host build bit-exact."""
    assert CALIB.is_file(), "examples/digits/digits_calib.npz (train split) is the calibration set"
    rep = validate_fpga(str(DIGITS / "digits.onnx"), data=str(TEST), calib=str(CALIB))
    assert rep["passed"] and rep["outputs"][0]["mismatches"] == 0
    acc = rep["accuracy"]
    assert acc["target"] == acc["reference"]
    assert acc["float"] - acc["target"] <= 0.005
    assert rep["fpga"]["overflow_layers"] == []
    rep8 = validate_fpga(str(DIGITS / "digits.onnx"), data=str(TEST), calib=str(CALIB), precision="auto<8>")
    assert rep8["passed"] and rep8["outputs"][0]["mismatches"] == 0
    assert rep8["accuracy"]["float"] - rep8["accuracy"]["target"] <= 0.02
    fmts = {r["layer"]: r for r in rep8["fpga"]["layers"]}
    assert all(re.match(r"u?fixed<8,", r["output_format"]) for r in fmts.values())
    # outputs of fused ReLUs cannot be negative: unsigned formats; the logits are signed
    assert fmts["/conv1/Conv"]["output_format"] == "ufixed<8,2>"  # calibrated max 3.67 < 4
    assert fmts["/fc2/Gemm"]["output_format"].startswith("fixed<8,")
    assert fmts["/conv1/Conv"]["weight_format"].startswith("fixed<8,")


# ---- networks: host build vs the simulator, bit for bit -----------------------------------------

NETS = ["lenet", "dscnn_net", "mobilenetv2_net", "resnet_block_net", "squeezenet_net"]


@pytest.mark.parametrize("net", NETS)
def test_networks_bit_exact(tmp_path, net):
    import networks

    p = tmp_path / f"{net}.onnx"
    onnx.save(getattr(networks, net)(), p)
    rep = validate_fpga(str(p), samples=3)
    assert rep["outputs"][0]["mismatches"] == 0 and rep["passed"]
    assert rep["outputs"][0]["sqnr_db"] > 30  # fixed<16,6> tracks ONNX Runtime
    # other modes and a narrower auto format, calibrated on random data: still bit-exact
    rng = np.random.default_rng(1)
    g = load_and_optimize(p)
    name = g.inputs[0]
    np.savez(tmp_path / "calib.npz", **{name: rng.standard_normal((16, *g.tensors[name].shape[1:])).astype(np.float32)})
    rep2 = validate_fpga(str(p), samples=2, precision="auto<10>", rounding="rnd_conv", overflow="wrap", reuse_factor=4,
                         calib=str(tmp_path / "calib.npz"))
    assert rep2["outputs"][0]["mismatches"] == 0


def _harness_matches_simulator(model: Path, opts: FixedOptions, out: Path) -> None:
    """Build the generated host harness with ASan + UBSan, feed it raw integers (scaled to overflow
    narrow formats), and compare its raw output bytes with the simulator's."""
    g = load_and_optimize(model)
    plan = assign(g, opts)
    d, _ = compile_fpga(plan, out)
    subprocess.run(["make", "-s", "-C", str(d), "CFLAGS=-O1 -std=c99 -Wall -Wextra -Werror -pedantic "
                    "-fsanitize=address,undefined -fno-sanitize-recover=all"], check=True, capture_output=True)
    rng = np.random.default_rng(5)
    ints = {n: fx.quantize(rng.standard_normal((1, *g.tensors[n].shape)) * 3, plan.act[n]) for n in g.inputs}
    (out / "in.bin").write_bytes(b"".join(ints[n].astype(plan.act[n].np_dtype).tobytes() for n in g.inputs))
    subprocess.run([str(d / "model_host"), str(out / "in.bin"), str(out / "out.bin")], check=True)
    sim = run_int(plan, ints)
    want = b"".join(sim.ints[o].astype(plan.act[o].np_dtype).tobytes() for o in g.outputs)
    assert (out / "out.bin").read_bytes() == want


def _op_coverage_model(path: Path) -> None:
    """1-D dilated Conv, 1x1 Conv, Add, unfused LeakyRelu, constant Pad, MaxPool, AveragePool (pads,
    ceil_mode, count_include_pad=0), Concat, Transpose, Clip, GlobalAveragePool, Flatten, MatMul,
    GlobalMaxPool; three outputs."""
    rng = np.random.default_rng(0)
    f = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)  # noqa: E731
    nodes = [
        h.make_node("Conv", ["x", "w1", "b1"], ["a"], name="conv_dil", dilations=[2], pads=[2, 2], kernel_shape=[3]),
        h.make_node("Conv", ["x", "w2"], ["b"], name="conv_pw", kernel_shape=[1]),
        h.make_node("Add", ["a", "b"], ["s"], name="add"),
        h.make_node("LeakyRelu", ["s"], ["l"], name="leaky", alpha=0.1),
        h.make_node("Pad", ["l", "pads"], ["p"], name="pad", mode="constant"),
        h.make_node("MaxPool", ["p"], ["mp"], name="maxpool", kernel_shape=[2], strides=[2]),
        h.make_node("AveragePool", ["l"], ["ap"], name="avgpool", kernel_shape=[3], strides=[2], pads=[1, 1],
                    count_include_pad=0, ceil_mode=1),
        h.make_node("Concat", ["mp", "ap"], ["cat"], name="concat", axis=1),
        h.make_node("Transpose", ["cat"], ["t"], name="transpose", perm=[0, 2, 1]),
        h.make_node("Clip", ["t", "lo", "hi"], ["y1"], name="clip"),
        h.make_node("GlobalAveragePool", ["cat"], ["gap"], name="gap"),
        h.make_node("Flatten", ["gap"], ["fl"], name="flatten", axis=1),
        h.make_node("MatMul", ["fl", "wm"], ["y2"], name="matmul"),
        h.make_node("GlobalMaxPool", ["cat"], ["y3"], name="gmp"),
    ]
    m = make(nodes, [vi("x", [1, 2, 12])], [vi("y1", [1, 7, 8]), vi("y2", [1, 3]), vi("y3", [1, 8, 1])],
             [const("w1", f(4, 2, 3)), const("b1", f(4)), const("w2", f(4, 2, 1)),
              const("pads", np.array([0, 0, 1, 0, 0, 1], np.int64)), const("lo", np.array(0.0, np.float32)),
              const("hi", np.array(0.6, np.float32)), const("wm", f(8, 3))])
    onnx.save(m, path)


def test_op_coverage_bit_exact_and_close_to_onnxruntime(tmp_path):
    p = tmp_path / "cov.onnx"
    _op_coverage_model(p)
    ops = {n.op for n in load_and_optimize(p).nodes}
    assert {"Conv", "Add", "LeakyRelu", "Pad", "MaxPool", "AveragePool", "Concat", "Transpose", "Clip",
            "GlobalAveragePool", "Reshape", "MatMul", "GlobalMaxPool"} <= ops
    rep = validate_fpga(str(p), samples=4)
    assert [o["mismatches"] for o in rep["outputs"]] == [0, 0, 0]
    assert all(o["sqnr_db"] > 50 and o["compared_with"] == "onnxruntime" for o in rep["outputs"])
    rep = validate_fpga(str(p), samples=4, precision="fixed<10,3>", rounding="trn", overflow="wrap")
    assert [o["mismatches"] for o in rep["outputs"]] == [0, 0, 0]
    assert all(o["sqnr_db"] > 20 for o in rep["outputs"])
    _harness_matches_simulator(p, FixedOptions("fixed<8,2>", "rnd_conv", "wrap", 3), tmp_path / "san")


def test_conv_transpose(tmp_path):
    """ConvTranspose 2-D (groups, strides, dilations, pads, output_padding, fused ReLU) and 1-D."""
    rng = np.random.default_rng(0)
    f = lambda *s: (rng.standard_normal(s) * 0.4).astype(np.float32)  # noqa: E731
    nodes = [h.make_node("ConvTranspose", ["x", "w", "b"], ["c"], name="deconv", strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1], group=2, dilations=[1, 2]),
             h.make_node("Relu", ["c"], ["y"], name="relu"),
             h.make_node("ConvTranspose", ["x1", "w1"], ["y1"], name="deconv1d", strides=[3], pads=[0, 1])]
    m = make(nodes, [vi("x", [1, 4, 5, 6]), vi("x1", [1, 2, 7])], [vi("y", [1, 6, 10, 14]), vi("y1", [1, 3, 21])],
             [const("w", f(4, 3, 3, 3)), const("b", f(6)), const("w1", f(2, 3, 4))])
    onnx.save(m, tmp_path / "ct.onnx")
    rep = validate_fpga(str(tmp_path / "ct.onnx"), samples=4)
    assert [o["mismatches"] for o in rep["outputs"]] == [0, 0] and all(o["sqnr_db"] > 50 for o in rep["outputs"])
    rep = validate_fpga(str(tmp_path / "ct.onnx"), samples=4, precision="fixed<10,3>", overflow="wrap", reuse_factor=3)
    assert [o["mismatches"] for o in rep["outputs"]] == [0, 0]


def test_broadcast_binary_ops_with_constants(tmp_path):
    """Squeeze-excitation style Mul with broadcasting, Sub / Mul / Add with constant and rank-1 operands."""
    rng = np.random.default_rng(0)
    nodes = [h.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
             h.make_node("Sigmoid", ["g"], ["s"], name="sig"),
             h.make_node("Mul", ["x", "s"], ["m"], name="scale"),
             h.make_node("Sub", ["m", "c"], ["d"], name="sub_const"),
             h.make_node("Mul", ["k", "d"], ["e"], name="mul_const"),
             h.make_node("Add", ["e", "x2"], ["y"], name="add_bcast")]
    m = make(nodes, [vi("x", [1, 4, 5, 5]), vi("x2", [5])], [vi("y", [1, 4, 5, 5])],
             [const("c", (rng.standard_normal((4, 1, 1)) * 0.5).astype(np.float32)), const("k", np.float32(1.5))])
    onnx.save(m, tmp_path / "bin.onnx")
    for prec in ("fixed<16,6>", "fixed<10,3>"):
        rep = validate_fpga(str(tmp_path / "bin.onnx"), samples=6, precision=prec)
        assert rep["outputs"][0]["mismatches"] == 0 and rep["outputs"][0]["sqnr_db"] > 40
        rows = {r["layer"]: r for r in rep["fpga"]["layers"]}
        w = int(prec.split("<")[1].split(",")[0])
        assert rows["sub_const"]["weight_bits"] == 4 * w and rows["mul_const"]["weight_bits"] == w


def test_data_movement_ops(tmp_path):
    """Resize (nearest), Slice, Gather, Tile, Expand: exact copies (Slice/Gather/Tile/Expand through
    source-index tables, nearest Resize through one-tap tables)."""
    nodes = [h.make_node("Resize", ["x", "", "scales"], ["r"], name="up", mode="nearest"),
             h.make_node("Slice", ["r", "st", "en", "ax"], ["s"], name="slice"),
             h.make_node("Gather", ["s", "gi"], ["g"], name="gather", axis=1),
             h.make_node("Tile", ["g", "rep"], ["t"], name="tile"),
             h.make_node("Expand", ["x2", "eshape"], ["e"], name="expand")]
    inits = [const("scales", np.array([1, 1, 2, 2], np.float32)), const("st", np.array([1, 0], np.int64)),
             const("en", np.array([7, 9], np.int64)), const("ax", np.array([2, 3], np.int64)),
             const("gi", np.array([2, 0, 2], np.int64)), const("rep", np.array([1, 1, 1, 2], np.int64)),
             const("eshape", np.array([1, 3, 2, 4], np.int64))]
    m = make(nodes, [vi("x", [1, 3, 4, 5]), vi("x2", [1, 3, 1, 1])], [vi("t", [1, 3, 6, 18]), vi("e", [1, 3, 2, 4])], inits)
    onnx.save(m, tmp_path / "g.onnx")
    rep = validate_fpga(str(tmp_path / "g.onnx"), samples=4)
    # pure copies: the only error is the input's quantization (half an lsb of fixed<16,6>)
    assert [o["mismatches"] for o in rep["outputs"]] == [0, 0]
    assert all(o["max_abs_err"] <= 2 ** -11 for o in rep["outputs"])


def test_resize_linear_cubic_and_reduce(tmp_path):
    """Resize linear / cubic (2-D, and 1-D on the last axis) from tap tables, ReduceMean / Sum / Max / Min
    over assorted axes: bit-exact, close to ONNX Runtime."""
    nodes = [h.make_node("Resize", ["x", "", "s2"], ["y1"], name="up_lin", mode="linear"),
             h.make_node("Resize", ["x", "", "s2"], ["y2"], name="up_cubic", mode="cubic"),
             h.make_node("Resize", ["x", "", "s1"], ["y3"], name="up_w", mode="linear", coordinate_transformation_mode="align_corners"),
             h.make_node("ReduceMean", ["x"], ["r1"], name="mean_hw", axes=[2, 3], keepdims=0),
             h.make_node("ReduceMax", ["x"], ["r2"], name="max_c", axes=[1], keepdims=1),
             h.make_node("ReduceSum", ["x", "ax"], ["r3"], name="sum_cw", keepdims=1),
             h.make_node("ReduceMin", ["x"], ["r4"], name="min_all", keepdims=0)]
    outs = [vi("y1", [1, 3, 8, 10]), vi("y2", [1, 3, 8, 10]), vi("y3", [1, 3, 4, 15]), vi("r1", [1, 3]),
            vi("r2", [1, 1, 4, 5]), vi("r3", [1, 1, 4, 1]), vi("r4", [])]
    m = make(nodes, [vi("x", [1, 3, 4, 5])], outs, [const("s2", np.array([1, 1, 2, 2], np.float32)),
             const("s1", np.array([1, 1, 1, 3], np.float32)), const("ax", np.array([1, 3], np.int64))])
    onnx.save(m, tmp_path / "rr.onnx")
    rep = validate_fpga(str(tmp_path / "rr.onnx"), samples=4)
    assert [o["mismatches"] for o in rep["outputs"]] == [0] * 7
    assert all(o["sqnr_db"] > 50 for o in rep["outputs"]), [o["sqnr_db"] for o in rep["outputs"]]
    rep = validate_fpga(str(tmp_path / "rr.onnx"), samples=4, precision="fixed<10,4>", rounding="rnd_conv")
    assert [o["mismatches"] for o in rep["outputs"]] == [0] * 7
    _harness_matches_simulator(tmp_path / "rr.onnx", FixedOptions("fixed<8,2>", "trn", "wrap"), tmp_path / "san")


def test_real_pytorch_export(tmp_path):
    """The PyTorch export with a dynamic batch (Resize linear, ConvTranspose, Slice, Concat, Add,
    ReduceMean, Gemm) at a fixed input shape: bit-exact, and top-1 agreement with ONNX Runtime."""
    rep = validate_fpga(str(ROOT / "tests" / "data" / "torch_dynamic_batch.onnx"), input_shapes={"input": (1, 3, 8, 8)},
                        samples=8)
    o = rep["outputs"][0]
    assert o["mismatches"] == 0 and o["sqnr_db"] > 35 and o["top1_agreement"] == 1.0


def test_split_multi_output(tmp_path):
    """Split into three (one also a graph output), a GLU-style gate and Concat: bit-exact."""
    nodes = [h.make_node("Split", ["x", "sp"], ["a", "b", "c"], name="split", axis=1),
             h.make_node("Sigmoid", ["b"], ["sb"], name="gate"),
             h.make_node("Mul", ["a", "sb"], ["g"], name="glu"),
             h.make_node("Concat", ["g", "c"], ["y"], name="cat", axis=1)]
    m = make(nodes, [vi("x", [1, 7, 3, 4])], [vi("y", [1, 4, 3, 4]), vi("c", [1, 1, 3, 4])],
             [const("sp", np.array([3, 3, 1], np.int64))])
    onnx.save(m, tmp_path / "split.onnx")
    rep = validate_fpga(str(tmp_path / "split.onnx"), samples=4)
    assert [o["mismatches"] for o in rep["outputs"]] == [0, 0] and all(o["sqnr_db"] > 40 for o in rep["outputs"])


def test_unfolded_batchnorm_and_prelu(tmp_path):
    """BatchNormalization after an Add (cannot fold into a Conv) as a per-channel affine map; PRelu with a
    constant per-channel slope and with a computed slope."""
    rng = np.random.default_rng(0)
    f = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)  # noqa: E731
    nodes = [h.make_node("Add", ["x", "x2"], ["s"], name="add"),
             h.make_node("BatchNormalization", ["s", "g", "b", "m", "v"], ["bn"], name="bn", epsilon=1e-3),
             h.make_node("PRelu", ["bn", "slope"], ["y"], name="prelu"),
             h.make_node("PRelu", ["x", "x3"], ["y2"], name="prelu_dyn")]
    shape = [1, 3, 4, 5]
    m = make(nodes, [vi("x", shape), vi("x2", shape), vi("x3", shape)], [vi("y", shape), vi("y2", shape)],
             [const("g", f(3) + 1), const("b", f(3)), const("m", f(3)), const("v", np.abs(f(3)) + 0.5),
              const("slope", np.abs(f(3, 1, 1)) * 0.5)])
    onnx.save(m, tmp_path / "bn.onnx")
    assert "BatchNormalization" in {n.op for n in load_and_optimize(tmp_path / "bn.onnx").nodes}
    for prec in ("fixed<16,6>", "fixed<10,3>"):
        rep = validate_fpga(str(tmp_path / "bn.onnx"), samples=6, precision=prec)
        assert [o["mismatches"] for o in rep["outputs"]] == [0, 0]
    assert all(o["sqnr_db"] > 50 for o in validate_fpga(str(tmp_path / "bn.onnx"), samples=6)["outputs"])
    _harness_matches_simulator(tmp_path / "bn.onnx", FixedOptions("fixed<8,2>", "rnd", "wrap"), tmp_path / "san")


def test_table_activations(tmp_path):
    """Sigmoid, Tanh, HardSwish, HardSigmoid as 1024-entry tables over the input format: bit-exact,
    and within the table's resolution of ONNX Runtime."""
    nodes = [h.make_node("Sigmoid", ["x"], ["y1"], name="sig"), h.make_node("Tanh", ["x"], ["y2"], name="tanh"),
             h.make_node("HardSwish", ["x"], ["y3"], name="hswish"),
             h.make_node("HardSigmoid", ["x"], ["y4"], name="hsig", alpha=0.25, beta=0.4)]
    onnx.save(make(nodes, [vi("x", [1, 2, 6])], [vi(f"y{i}", [1, 2, 6]) for i in range(1, 5)], opset=14), tmp_path / "t.onnx")
    for prec in ("fixed<16,6>", "fixed<8,3>"):
        rep = validate_fpga(str(tmp_path / "t.onnx"), samples=40, precision=prec)
        assert [o["mismatches"] for o in rep["outputs"]] == [0, 0, 0, 0]
        # fixed<16,6>: table step 2^6 lsb = 1/16, so |error| <= slope/32 + output lsb
        assert all(o["sqnr_db"] > 30 and o["max_abs_err"] < 0.045 for o in rep["outputs"])
    c = (tmp_path / "t.onnx")
    plan = assign(load_and_optimize(c), FixedOptions())
    lut = {L.node.name: L for L in plan.layers}["sig"]
    assert lut.consts["lut"][0].size == 1024 and lut.p["shift"] == 6 and lut.p["offset"] == 512
    # entry k covers inputs [(k - 512)·2^6, (k - 511)·2^6) lsb; its value is sigmoid at the middle
    k = 600
    mid = ((k - 512) * 64 + 31.5) / 1024
    assert lut.consts["lut"][0][k] == int(np.floor(1 / (1 + np.exp(-mid)) * 1024 + 0.5))


def test_softmax(tmp_path):
    """Softmax (last axis after a Gemm, and axis 1 of a 3-D tensor) from an exp table and one rounded
    division: bit-exact with the simulator and close to ONNX Runtime; rows sum to ~1."""
    rng = np.random.default_rng(0)
    nodes = [h.make_node("Gemm", ["x", "w", "b"], ["z"], name="fc", transB=1),
             h.make_node("Softmax", ["z"], ["y"], name="softmax", axis=-1),
             h.make_node("Softmax", ["x3"], ["y3"], name="softmax_c", axis=1)]
    m = make(nodes, [vi("x", [1, 16]), vi("x3", [1, 5, 3])], [vi("y", [1, 10]), vi("y3", [1, 5, 3])],
             [const("w", (rng.standard_normal((10, 16)) * 0.7).astype(np.float32)),
              const("b", (rng.standard_normal(10) * 0.3).astype(np.float32))])
    onnx.save(m, tmp_path / "sm.onnx")
    for prec, rnd in (("fixed<16,6>", "rnd"), ("fixed<10,2>", "rnd_conv"), ("fixed<12,4>", "trn")):
        rep = validate_fpga(str(tmp_path / "sm.onnx"), samples=30, precision=prec, rounding=rnd)
        assert [o["mismatches"] for o in rep["outputs"]] == [0, 0]
    rep = validate_fpga(str(tmp_path / "sm.onnx"), samples=30)
    assert all(o["sqnr_db"] > 40 and o["max_abs_err"] < 0.01 for o in rep["outputs"])
    plan = assign(load_and_optimize(tmp_path / "sm.onnx"), FixedOptions())
    xs = {"x": fx.quantize(rng.standard_normal((5, 1, 16)), plan.act["x"]),
          "x3": fx.quantize(rng.standard_normal((5, 1, 5, 3)), plan.act["x3"])}
    y = fx.to_real(run_int(plan, xs).ints["y"], plan.act["y"])
    assert np.allclose(y.sum(axis=-1), 1.0, atol=0.005)
    _harness_matches_simulator(tmp_path / "sm.onnx", FixedOptions("fixed<8,2>", "rnd_conv", "wrap"), tmp_path / "san")


# ---- overflow: saturate vs wrap on a layer forced too narrow ---------------------------------------

def _gemm_model(tmp_path: Path) -> Path:
    w = np.array([[1.0, 0.5], [2.0, -1.0], [-0.75, 1.5]], np.float32)  # [in 3, out 2]
    b = np.array([0.25, -0.5], np.float32)
    m = make([h.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc")], [vi("x", [1, 3])], [vi("y", [1, 2])],
             [const("w", w), const("b", b)])
    p = tmp_path / "gemm.onnx"
    onnx.save(m, p)
    return p


def test_overflow_saturate_vs_wrap(tmp_path):
    p = _gemm_model(tmp_path)
    x = np.array([[3.5, 1.25, -2.0]], np.float32)  # exact in fixed<16,6>
    # y = x @ w + b = [3.5 + 2.5 + 1.5 + 0.25, 1.75 - 1.25 - 3 - 0.5] = [7.75, -3.0]; in fixed<6,2> (F = 4):
    # 7.75·16 = 124 and -3·16 = -48, the range is [-32, 31]. Independently: saturate → 31, -32;
    # wrap → the low 6 bits as signed: 124 - 128 = -4, -48 + 64 = 16.
    def wrap6(q):
        return (q + 32) % 64 - 32

    expect = {"sat": [min(124, 31), max(-48, -32)], "wrap": [wrap6(124), wrap6(-48)]}
    assert expect["wrap"] == [-4, 16]
    g = load_and_optimize(p)
    for mode in ("sat", "wrap"):
        plan = assign(g, FixedOptions("fixed<16,6>", "rnd", mode, 1, {"fc": "fixed<6,2>"}))
        xi = fx.quantize(x, plan.act["x"])
        assert xi.tolist() == [[3584, 1280, -2048]]
        sim = run_int(plan, {"x": xi[None]})
        assert sim.ints["y"].ravel().tolist() == expect[mode]
        assert sim.overflows["fc"] == 2
        out_dir, _ = compile_fpga(plan, tmp_path / f"b_{mode}")
        from convc.runtime.artifacts import load_artifact

        art = load_artifact(out_dir)
        assert np.asarray(art.run_int({"x": xi})["y"]).ravel().tolist() == expect[mode]
    # validate flags the layer whose calibrated range exceeds its format
    np.savez(tmp_path / "calib.npz", x=x)
    (tmp_path / "cfg.json").write_text(json.dumps({"fc": "fixed<6,2>"}))
    rep = validate_fpga(str(p), calib=str(tmp_path / "calib.npz"), config=str(tmp_path / "cfg.json"), samples=2,
                        overflow="wrap")
    assert rep["outputs"][0]["mismatches"] == 0
    flagged = rep["fpga"]["overflow_layers"]
    assert [f["layer"] for f in flagged] == ["fc"] and flagged[0]["range"] == [-3.0, 7.75]
    assert flagged[0]["format"] == "fixed<6,2>" and any("fc" in w for w in rep["warnings"])


def test_narrowed_accumulator_rounds_products_and_wraps(tmp_path):
    """config {"fc": {"accum": "fixed<5,4,AP_TRN>"}}: every product truncated to F = 1, the bias rounded
    half up to F = 1, the sum wrapped to 5 bits, then widened exactly to the output's fixed<16,6>."""
    import math
    from fractions import Fraction as Fr

    p = _gemm_model(tmp_path)
    x = [Fr(7, 2), Fr(5, 4), Fr(-2)]
    w = [[Fr(1), Fr(1, 2)], [Fr(2), Fr(-1)], [Fr(-3, 4), Fr(3, 2)]]
    b = [Fr(1, 4), Fr(-1, 2)]

    def wrap5(q):
        return (q + 16) % 32 - 16

    want = []
    for j in range(2):
        acc = sum(math.floor(x[i] * w[i][j] * 2) for i in range(3)) + math.floor(b[j] * 2 + Fr(1, 2))
        want.append(wrap5(acc) * 2 ** 9)  # F 1 → 10
    assert want == [-16 * 512, -7 * 512]
    plan = assign(load_and_optimize(p), FixedOptions(overrides={"fc": {"accum": "fixed<5,4,AP_TRN>"}}))
    xi = fx.quantize(np.array([[3.5, 1.25, -2.0]]), plan.act["x"])
    assert run_int(plan, {"x": xi[None]}).ints["y"].ravel().tolist() == want
    out_dir, _ = compile_fpga(plan, tmp_path / "b")
    from convc.runtime.artifacts import load_artifact

    assert np.asarray(load_artifact(out_dir).run_int({"x": xi})["y"]).ravel().tolist() == want
    with pytest.raises(UsageError, match="AP_WRAP"):
        assign(load_and_optimize(p), FixedOptions(overrides={"fc": {"accum": "fixed<12,4,AP_TRN,AP_SAT>"}}))
    # narrowed accumulators on the digits model (rounding per product in conv and dense): still bit-exact
    g = load_and_optimize(DIGITS / "digits.onnx")
    plan = assign(g, FixedOptions(overrides={"/conv2/Conv": {"accum": "fixed<24,6>"},
                                             "/fc1/Gemm": {"accum": "fixed<18,4,AP_RND_CONV>"}}))
    rep = validate_fpga(str(DIGITS / "digits.onnx"), plan=plan, samples=4)
    assert rep["outputs"][0]["mismatches"] == 0


def test_config_file_formats(tmp_path):
    """Per-layer formats from the config file: fixed, auto<W> for outputs and weights, the input."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"/fc1/Gemm": {"output": "auto<6>", "weight": "auto<4>"}, "/conv1/Conv": "auto<10>",
                               "/conv2/Conv": "fixed<12,4>", "input": "fixed<8,2>"}))
    rep = validate_fpga(str(DIGITS / "digits.onnx"), data=str(TEST), calib=str(CALIB), config=str(cfg))
    assert rep["outputs"][0]["mismatches"] == 0
    rows = {r["layer"]: r for r in rep["fpga"]["layers"]}
    assert rows["/conv1/Conv"]["input_format"] == "fixed<8,2>"
    assert rows["/conv1/Conv"]["output_format"] == "ufixed<10,2>"  # ReLU output, calibrated max 3.67
    assert rows["/conv2/Conv"]["output_format"] == "fixed<12,4>" and rows["/pool1/MaxPool"]["output_format"] == "fixed<12,4>"
    assert rows["/fc1/Gemm"]["output_format"] == "ufixed<6,5>"  # calibrated max 16.3
    assert rows["/fc1/Gemm"]["weight_format"] == "fixed<4,0>"  # max |w| 0.317
    assert rows["/fc2/Gemm"]["output_format"] == "fixed<16,6>"  # the global default elsewhere
    g = load_and_optimize(DIGITS / "digits.onnx")
    for bad, msg in (({"/nope": "fixed<8,3>"}, "no layer named '/nope'"),
                     ({"/pool1/MaxPool": "fixed<8,3>"}, "keeps its input's format"),
                     ({"/conv1/Conv": {"bias": "fixed<8,3>"}}, "expected"),
                     ({"/conv1/Conv": "auto<8>"}, "pass --calib")):
        with pytest.raises(UsageError, match=msg):
            assign(g, FixedOptions(overrides=bad))


# ---- generated code ------------------------------------------------------------------------------

def test_generated_code_integer_only_and_harness(tmp_path):
    g = load_and_optimize(DIGITS / "digits.onnx")
    plan = assign(g, FixedOptions(reuse_factor=2))
    out_dir, hm = compile_fpga(plan, tmp_path / "b", prefix="digits")
    inference = [out_dir / n for n in ("digits.c", "digits.h", "digits_weights.h", "convc_fixed.h")]
    for f in inference:
        text = f.read_text()
        assert not re.search(r"\b(float|double)\b", text), f
        assert "malloc" not in text
    c = (out_dir / "digits.c").read_text()
    assert "void digits_top(const digits_in_t in[64], digits_out_t out[10])" in c
    assert "CONVC_HLS(HLS PIPELINE II=2)" in c and "ARRAY_PARTITION" in c
    h_text = (out_dir / "digits.h").read_text()
    assert "#define DIGITS_IN_F 10" in h_text and "#define DIGITS_OUT_W 16" in h_text
    # the host harness (Makefile, strict flags) on one raw input matches the simulator
    # HLS tools compile C++: the same sources build warning-free as C++ with g++ (installed by setup.sh)
    cxx = shutil.which("g++")
    assert cxx, "g++ missing: run scripts/setup.sh"
    subprocess.run([cxx, "-std=c++14", "-Wall", "-Wextra", "-Werror", "-pedantic", "-x", "c++", "-c",
                    str(out_dir / "digits.c"), "-o", str(tmp_path / "digits_cxx.o")], check=True)
    # under __SYNTHESIS__ the pragmas become real `#pragma HLS ...` lines (gcc ignores them)
    pre = subprocess.run([CC, "-std=c99", "-D__SYNTHESIS__", "-E", str(out_dir / "digits.c")], check=True,
                         capture_output=True, text=True).stdout
    assert "#pragma HLS PIPELINE II=2" in pre and "#pragma HLS ARRAY_PARTITION variable=" in pre
    subprocess.run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-unknown-pragmas", "-D__SYNTHESIS__",
                    "-c", str(out_dir / "digits.c"), "-o", str(tmp_path / "syn.o")], check=True)
    # strict flags plus AddressSanitizer and UBSan (any finding aborts the run)
    subprocess.run(["make", "-s", "-C", str(out_dir), "CFLAGS=-O1 -std=c99 -Wall -Wextra -Werror -pedantic "
                    "-fsanitize=address,undefined -fno-sanitize-recover=all"], check=True, capture_output=True)
    x = np.load(TEST)["input"][:1]
    xi = fx.quantize(x.reshape(1, 1, 1, 8, 8), plan.act["input"])
    (tmp_path / "in.bin").write_bytes(xi.astype(np.int16).tobytes())
    subprocess.run([str(out_dir / "digits_host"), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int16)
    assert got.tolist() == run_int(plan, {"input": xi}).ints["logits"].ravel().tolist()
    # byte-identical for the same model and options
    _, hm2 = compile_fpga(assign(g, FixedOptions(reuse_factor=2)), tmp_path / "b2", prefix="digits")
    assert hm2.files == hm.files


def test_resource_model():
    g = load_and_optimize(DIGITS / "digits.onnx")
    for R in (1, 3):
        rows = {r["layer"]: r for r in layer_costs(assign(g, FixedOptions(reuse_factor=R)))}
        conv2 = rows["/conv2/Conv"]  # 16 out x 8 in x 3x3 per pixel, 8x8 pixels
        assert conv2["multipliers"] == -(-16 * 8 * 9 // R) and conv2["cycles"] == 64 * R
        fc1 = rows["/fc1/Gemm"]
        assert fc1["multipliers"] == -(-32 * 128 // R) and fc1["cycles"] == R
        assert fc1["weight_bits"] == 32 * 128 * 16 + 32 * int(fc1["accumulator"].split("<")[1].split(",")[0])
        assert fc1["bram18k"] == (0 if R == 1 else -(-fc1["weight_bits"] // 18432))


def test_unsupported_op_is_one_clear_error(tmp_path):
    m = make([h.make_node("Exp", ["x"], ["y"], name="ex")], [vi("x", [1, 4])], [vi("y", [1, 4])])
    onnx.save(m, tmp_path / "ex.onnx")
    with pytest.raises(UnsupportedError, match=r"node 'ex' \(Exp\): no fixed-point implementation"):
        assign(load_and_optimize(tmp_path / "ex.onnx"), FixedOptions())
    assert main(["compile", str(tmp_path / "ex.onnx"), "--target", "fpga", "-o", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()


# ---- command line ----------------------------------------------------------------------------------

def test_cli(tmp_path, capsys):
    model = str(DIGITS / "digits.onnx")
    assert main(["compile", model, "--target", "fpga", "--precision", "fixed<8,3>", "--calib", str(CALIB),
                 "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr()
    assert "model_top()" in out.out and "warning: layer '/fc2/Gemm'" in out.err
    assert (tmp_path / "b" / "model.c").is_file()
    assert main(["validate", model, "--target", "fpga", "--precision", "auto<8>", "--calib", str(CALIB), "--data", str(TEST),
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"model", "target", "ran_on", "passed", "outputs", "accuracy", "memory", "macs", "fpga"} <= set(rep)
    assert rep["outputs"][0]["mismatches"] == 0 and {"multipliers", "latency_cycles", "bram18k"} <= set(rep["fpga"])
    assert main(["inspect", model, "--target", "fpga", "--reuse-factor", "4"]) == 0
    assert "reuse factor 4" in capsys.readouterr().out
    png = tmp_path / "p.png"
    assert main(["profile", model, "--calib", str(CALIB), "--data", str(TEST), "-o", str(png)]) == 0
    out = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "/fc2/Gemm" in out and "auto<6>" in out and "auto<16>" in out
    for argv, msg in ((["compile", model, "--target", "fpga", "--precision", "fixed<8>"], "expected fixed<W,I>"),
                      (["compile", model, "--target", "fpga", "--precision", "auto"], "--calib"),
                      (["profile", model], "needs --calib")):
        assert main(argv + ["-o", str(tmp_path / "x")] if argv[0] != "profile" else argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and msg in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
