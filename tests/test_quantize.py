"""int8 post-training quantization: calibration, the rewrite to integer ops, the integer oracle,
and the generated int8 C bit-exact against that oracle."""
from __future__ import annotations

import subprocess

import numpy as np
import onnx
import pytest
from onnx import helper as h

from convc.compiler import reference
from convc.compiler.driver import compile_graph, load_and_optimize
from convc.compiler.errors import UsageError
from convc.compiler.ir import Node
from convc.compiler.ops.registry import get_op
from convc.compiler.quantize.calibrate import calibrate, load_calibration
from convc.compiler.quantize.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, quantize_multipliers
from convc.compiler.quantize.rewrite import act_qparams, quantize_graph
from convc.runtime.data import random_data, sample
from convc.runtime.host import HostModel, build_shared, host_cc
from models import const, make, vi
from networks import ALL


def _int8_c_vs_oracle(q, feeds, tmp_path):
    """Run the int8 graph through the oracle and through its generated C: (oracle outs, C outs)."""
    c = compile_graph(q, "c", tmp_path / "int8")
    hm = HostModel(c.out_dir)
    outs_ref, outs_c = [], []
    for feed in feeds:
        outs_ref.append(reference.run(q, feed))
        outs_c.append(hm.run(feed))
    return outs_ref, outs_c, c


@pytest.mark.parametrize("name", sorted(ALL))
def test_network_int8_c_bit_exact(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    onnx.save(ALL[name](), path)
    g = load_and_optimize(path)
    res = quantize_graph(g, random_data(g, 24, seed=1), "minmax")
    q = res.graph
    assert res.float_layers == [], res.float_layers  # every layer of these networks has an int8 kernel
    ops = {n.op for n in q.nodes}
    assert "Conv" not in ops and "Gemm" not in ops and "QConv" in ops
    test = random_data(g, 6, seed=2)
    feeds = [sample(test, i, g) for i in range(6)]
    ref, got, c = _int8_c_vs_oracle(q, feeds, tmp_path)
    o = g.outputs[0]
    mismatches = sum(int(np.sum(r[o] != t[o])) for r, t in zip(ref, got))
    assert mismatches == 0
    # the int8 oracle tracks the float model
    fl = np.stack([reference.run(g, f)[o] for f in feeds]).reshape(6, -1)
    qo = np.stack([r[o] for r in ref]).reshape(6, -1)
    assert np.corrcoef(fl.ravel(), qo.ravel())[0, 1] > 0.95
    # arena: a quarter of the float build
    cf = compile_graph(g, "c", tmp_path / "float")
    assert c.c_model.meta["arena_bytes"] <= 0.3 * cf.c_model.meta["arena_bytes"]


@pytest.mark.parametrize("name", sorted(ALL))
def test_int8_c_clean_under_sanitizers(name, tmp_path):
    """Each int8 network (depthwise, Relu6 clamps, residual QAdd, Concat requantization, QAvgPool)
    built as the host test program with ASan/UBSan: no report, output identical to the oracle."""
    path = tmp_path / "m.onnx"
    onnx.save(ALL[name](), path)
    g = load_and_optimize(path)
    q = quantize_graph(g, random_data(g, 16, seed=1)).graph
    c = compile_graph(q, "c", tmp_path / "b")
    out = c.out_dir
    exe = tmp_path / "model_test"
    r = subprocess.run([host_cc(), "-O1", "-g", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-o", str(exe),
                        str(out / "main.c"), str(out / "model.c"), str(out / "model_weights.c"), "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    x = random_data(g, 1, seed=5)[g.inputs[0]].reshape(g.tensors[g.inputs[0]].shape)
    x.tofile(tmp_path / "in.bin")
    r = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    o = g.outputs[0]
    got = np.fromfile(tmp_path / "out.bin", np.float32).reshape(g.tensors[o].shape)
    np.testing.assert_array_equal(got, reference.run(q, {g.inputs[0]: x})[o])


ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits"


def test_digits_validate_int8_cli(capsys):
    """The trained digits ConvNet, calibrated on its train split, tested on the held-out split:
    C int8 bit-exact with the integer oracle on every sample, accuracy within 1 point of float."""
    from convc.compiler.cli import main

    rc = main(["validate", str(DIGITS / "digits.onnx"), "--quantize", "int8", "--calib", str(DIGITS / "digits_calib.npz"),
               "--data", str(DIGITS / "digits_test.npz"), "--json"])
    rep = __import__("json").loads(capsys.readouterr().out)
    assert rc == 0 and rep["passed"] is True and rep["quantize"] == "int8"
    assert rep["samples"] == 360
    (out,) = rep["outputs"]
    assert out["mismatches"] == 0 and out["compared_with"] == "onnxruntime"
    acc = rep["accuracy"]
    assert acc["target"] == acc["reference"]
    assert abs(acc["float"] - acc["reference"]) <= 0.01 and acc["float"] > 0.97
    assert rep["float_layers"] == [] and rep["calibration"] == {"method": "minmax", "samples": 200, "warnings": []}
    sq = {x["layer"]: x["sqnr_db"] for x in rep["layers"]}
    assert sum("range" in x for x in rep["layers"]) >= 5
    for x in [x for x in rep["layers"] if "range" in x]:  # per layer: calibrated range → int8 parameters
        lo, hi = x["range"]
        assert lo <= 0 <= hi and x["scale"] == pytest.approx((hi - lo) / 255, rel=1e-6)
    assert len(sq) >= 8 and min(sq.values()) > 25  # every int8 activation tracks its float counterpart
    assert out["sqnr_db"] > 30
    mem = rep["memory"]
    assert mem["arena_bytes"] * 4 == mem["float_arena_bytes"]


def test_compile_int8_cli(tmp_path, capsys):
    from convc.compiler.cli import main

    out = tmp_path / "b"
    rc = main(["compile", str(DIGITS / "digits.onnx"), "--quantize", "int8", "--calib", str(DIGITS / "digits_calib.npz"),
               "--calib-method", "mse", "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "int8: 8 int8 layers, calibration mse on 200 samples; float layers: none" in text
    assert (out / "convc_fixedpoint.h").is_file()
    assert '#include "convc_fixedpoint.h"' in (out / "model.c").read_text()
    again = tmp_path / "again"  # same model, same options: byte-identical files
    assert main(["compile", str(DIGITS / "digits.onnx"), "--quantize", "int8", "--calib", str(DIGITS / "digits_calib.npz"),
                 "--calib-method", "mse", "-o", str(again)]) == 0
    capsys.readouterr()
    files = sorted(p.name for p in out.iterdir() if p.is_file())
    assert files == sorted(p.name for p in again.iterdir() if p.is_file())
    assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files)
    # model.h carries the boundary quantization; they are the graph's QuantizeLinear/DequantizeLinear
    hdr = (out / "model.h").read_text()
    g = load_and_optimize(DIGITS / "digits.onnx")
    q = quantize_graph(g, load_calibration(DIGITS / "digits_calib.npz", g)[0], "mse").graph
    first, last = q.nodes[0], q.nodes[-1]
    assert first.op == "QuantizeLinear" and last.op == "DequantizeLinear"
    assert f"#define MODEL_INPUT0_ZERO_POINT ({first.attrs['zero_point']})" in hdr
    assert f"#define MODEL_OUTPUT0_ZERO_POINT ({last.attrs['zero_point']})" in hdr
    import re

    scale = float(re.search(r"#define MODEL_OUTPUT0_SCALE ([0-9.e+-]+)f", hdr).group(1))
    assert np.float32(scale) == np.float32(last.attrs["scale"])


@pytest.mark.parametrize("args, msg", [
    (["--quantize", "int8"], "--quantize int8 needs --calib"),
    (["--quantize", "int8", "--calib", "nope.npz"], "no such file or folder"),
])
def test_cli_quantize_usage_errors(args, msg, capsys):
    from convc.compiler.cli import main

    rc = main(["compile", str(DIGITS / "digits.onnx"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and msg in err and len(err.strip().splitlines()) == 1


def _digits_graph():
    return load_and_optimize(DIGITS / "digits.onnx")


def test_calibration_data_errors(tmp_path):
    g = _digits_graph()
    good = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    cases = {
        "shape.npz": ({"input": good.reshape(20, 1, 64)}, "expected [N, 1, 8, 8]"),
        "dtype.npz": ({"input": (good * 16).astype(np.int64)}, "dtype int64"),
        "name.npz": ({"x": good}, "no array named 'input'"),
        "nan.npz": ({"input": np.where(good > 0.5, np.nan, good).astype(np.float32)}, "NaN"),
    }
    for fname, (arrays, msg) in cases.items():
        np.savez(tmp_path / fname, **arrays)
        with pytest.raises(UsageError, match=msg.replace("[", r"\[").replace("]", r"\]")):
            load_calibration(tmp_path / fname, g)
    d = tmp_path / "npy"
    d.mkdir()
    with pytest.raises(UsageError, match="no file 'input.npy'"):
        load_calibration(d, g)
    np.save(d / "input.npy", good[:5])
    arrays, warns = load_calibration(d, g)  # a folder of <input>.npy works; few samples warn
    assert arrays["input"].shape == (5, 1, 8, 8) and "only 5 sample(s)" in warns[0]
    np.save(d / "input.npy", good)
    assert load_calibration(d, g)[1] == []


def test_calibration_methods_on_outliers():
    """A tensor with rare large outliers: percentile and MSE clip them, min/max keeps them."""
    x = vi("x", [1, 1, 1000])
    model = make([h.make_node("Relu", ["x"], ["y"])], [x], [vi("y", [1, 1, 1000])])
    from convc.compiler.frontend.onnx import load
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        onnx.save(model, f"{d}/m.onnx")
        g = load(f"{d}/m.onnx")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 1, 1000)).astype(np.float32)
    data[3, 0, 7] = 60.0
    r = {m: calibrate(g, {"x": data}, m).ranges["x"] for m in ("minmax", "percentile", "mse")}
    assert r["minmax"][1] == pytest.approx(60.0)
    assert r["percentile"][1] < 10
    # MSE minimizes the int8 quantize→dequantize error: never worse than min/max; on heavy tails it clips
    from convc.compiler.quantize.calibrate import _int8_qdq_error

    v = data.astype(np.float64).ravel()
    assert _int8_qdq_error(v, *r["mse"]) <= _int8_qdq_error(v, *r["minmax"])
    heavy = rng.standard_t(2, (64, 1, 1000)).astype(np.float32)
    rm = {m: calibrate(g, {"x": heavy}, m).ranges["x"] for m in ("minmax", "mse")}
    assert rm["mse"][1] < rm["minmax"][1] and rm["mse"][0] > rm["minmax"][0]
    hv = heavy.astype(np.float64).ravel()
    assert _int8_qdq_error(hv, *rm["mse"]) < 0.95 * _int8_qdq_error(hv, *rm["minmax"])
    assert r["minmax"][0] == pytest.approx(float(data.min()))


def _graph_of(model, tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    return load_and_optimize(p)


def _check_int8(g, tmp_path, n_cal=32, n_test=4, lsb=2, float_outputs=()):
    """Quantize on seeded data; the C build equals the integer oracle; the dequantized integer
    oracle is within `lsb` output steps of the float oracle on most elements. Returns the result."""
    res = quantize_graph(g, random_data(g, n_cal, seed=1))
    q = res.graph
    test = random_data(g, n_test, seed=2)
    feeds = [sample(test, i, g) for i in range(n_test)]
    ref, got, _ = _int8_c_vs_oracle(q, feeds, tmp_path)
    for o in g.outputs:
        for r, t in zip(ref, got):
            if o in float_outputs:  # computed by a float op: C libm vs NumPy, not bit for bit
                np.testing.assert_allclose(t[o], r[o], rtol=1e-5, atol=1e-7)
            else:
                np.testing.assert_array_equal(r[o], t[o])
        dq = [n for n in q.nodes if n.outputs == [o]][0]
        step = dq.attrs["scale"] if dq.op == "DequantizeLinear" else 1 / 256
        err = np.abs(np.stack([r[o] for r in ref]) - np.stack([reference.run(g, f)[o] for f in feeds]))
        assert np.mean(err <= lsb * step + 1e-6) > 0.9, (o, float(err.max()), step)
    return res


@pytest.mark.parametrize("op, attrs", [("Sigmoid", {}), ("Tanh", {}), ("HardSwish", {}), ("LeakyRelu", {"alpha": 0.1}),
                                       ("HardSigmoid", {"alpha": 0.25, "beta": 0.4})])
def test_lut_activations(op, attrs, tmp_path):
    """Conv → activation: the activation becomes a 256-entry table (fused ones are unfused first)."""
    rng = np.random.default_rng(0)
    model = make([h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                  h.make_node(op, ["c"], ["y"], **attrs)],
                 [vi("x", [1, 3, 6, 6])], [vi("y", [1, 4, 6, 6])],
                 [const("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3),
                  const("b", rng.standard_normal(4).astype(np.float32))])
    res = _check_int8(_graph_of(model, tmp_path), tmp_path, lsb=3)
    lut = [n for n in res.graph.nodes if n.op == "QLut"]
    assert len(lut) == 1 and lut[0].attrs["function"] == op
    if op == "Sigmoid":  # TFLM fixes the output quantization of logistic
        assert res.graph.tensors[lut[0].outputs[0]].quant.zero_point[0] == -128
        assert res.graph.tensors[lut[0].outputs[0]].quant.scale[0] == np.float32(1 / 256)


def test_mul_concat_pad_pools(tmp_path):
    """QMul (broadcast), Concat requantizing inputs of other scales, constant Pad passing int8 through
    (pad value = zero point), AveragePool with count_include_pad and ceil_mode, MaxPool, GlobalAveragePool."""
    rng = np.random.default_rng(1)
    model = make([
        h.make_node("Mul", ["x", "s"], ["m"]),
        h.make_node("Conv", ["m", "w"], ["c"]),
        h.make_node("Concat", ["m", "c"], ["cat"], axis=1),
        h.make_node("Pad", ["cat", "pads"], ["p"], mode="constant"),
        h.make_node("AveragePool", ["p"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                    count_include_pad=1, ceil_mode=1),
        h.make_node("MaxPool", ["p"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("GlobalAveragePool", ["a"], ["y1"]),
        h.make_node("Add", ["mp", "mp"], ["y2"]),
    ], [vi("x", [1, 2, 7, 7])], [vi("y1", [1, 5, 1, 1]), vi("y2", [1, 5, 4, 4])],
        [const("s", (rng.random((2, 1, 1)) * 3).astype(np.float32)),
         const("w", rng.standard_normal((3, 2, 1, 1)).astype(np.float32)),
         const("pads", np.array([0, 0, 1, 1, 0, 0, 0, 0], np.int64))])
    res = _check_int8(_graph_of(model, tmp_path), tmp_path)
    ops = [n.op for n in res.graph.nodes]
    assert res.float_layers == []
    assert {"QMul", "QRequantize", "Pad", "QAvgPool", "MaxPool", "QAdd", "Concat"} <= set(ops)


def test_mixed_precision_float_islands(tmp_path):
    """Ops without an int8 kernel (Div; Softmax over a non-innermost axis) stay float between
    Dequantize/Quantize; the result lists them, and the int8 parts are bit-exact in C."""
    rng = np.random.default_rng(2)
    model = make([
        h.make_node("Conv", ["x", "w"], ["c"]),
        h.make_node("Div", ["c", "d"], ["q"]),
        h.make_node("Relu", ["q"], ["r"]),
        h.make_node("Flatten", ["r"], ["f"]),
        h.make_node("Softmax", ["r"], ["y"], axis=1),
    ], [vi("x", [1, 2, 4, 4])], [vi("y", [1, 3, 4, 4]), vi("f", [1, 48])],
        [const("w", rng.standard_normal((3, 2, 1, 1)).astype(np.float32)),
         const("d", np.float32(1.7))])
    res = _check_int8(_graph_of(model, tmp_path), tmp_path, float_outputs=("y",))
    assert [s.split(" ")[-1] for s in res.float_layers] == ["(Div)", "(Softmax)"]
    ops = [n.op for n in res.graph.nodes]
    assert ops.count("DequantizeLinear") == 3 and ops.count("QuantizeLinear") == 2  # to Div, to Softmax, output f
    assert "Softmax" in ops and ops.count("QLut") == 1  # the Relu after the float Div is int8 again


@pytest.mark.parametrize("core", ["cortex-m3", "cortex-m55"])
def test_digits_int8_on_cortex_m(core):
    """The int8 digits model as Cortex-M firmware under QEMU (M3: soft-float boundary quantize/dequantize):
    bit-exact with the integer oracle on all 360 test images; int8 needs less flash and RAM than float."""
    from convc.runtime.harness import validate

    data, calib = str(DIGITS / "digits_test.npz"), str(DIGITS / "digits_calib.npz")
    rep = validate(str(DIGITS / "digits.onnx"), core, data=data, quantize="int8", calib=calib)
    assert rep["passed"] is True and rep["outputs"][0]["mismatches"] == 0 and rep["samples"] == 360
    assert rep["ran_on"].startswith("qemu-system-arm")
    assert rep["accuracy"]["target"] == rep["accuracy"]["reference"] >= rep["accuracy"]["float"] - 0.01
    fl = validate(str(DIGITS / "digits.onnx"), core, data=data, samples=1)
    assert rep["memory"]["flash_bytes"] < 0.5 * fl["memory"]["flash_bytes"]
    assert rep["memory"]["arena_bytes"] * 4 == fl["memory"]["arena_bytes"]
    assert rep["instructions"] > 0


def test_softmax_int8_c_bit_exact(tmp_path):
    """Gemm → Softmax: the Softmax is TFLM's int8 kernel (scale 1/256, zero point −128), the C build
    equals the integer oracle, probabilities within 2/256 of float."""
    rng = np.random.default_rng(5)
    model = make([h.make_node("Gemm", ["x", "w", "b"], ["z"], transB=1), h.make_node("Softmax", ["z"], ["y"])],
                 [vi("x", [1, 40])], [vi("y", [1, 12])],
                 [const("w", rng.standard_normal((12, 40)).astype(np.float32) * 0.3),
                  const("b", rng.standard_normal(12).astype(np.float32))])
    res = _check_int8(_graph_of(model, tmp_path), tmp_path, n_test=8, lsb=2)
    sm = [n for n in res.graph.nodes if n.op == "QSoftmax"]
    assert len(sm) == 1 and res.float_layers == []
    assert res.graph.tensors[sm[0].outputs[0]].quant.scale[0] == np.float32(1 / 256)


def test_conv1d_avgpool1d_and_batch(tmp_path):
    """1-D Conv (strided, padded, dilated, grouped) and 1-D AveragePool on a batch of 2."""
    rng = np.random.default_rng(11)
    model = make([h.make_node("Conv", ["x", "w", "b"], ["c"], pads=[2, 1], strides=[2], dilations=[2], group=2),
                  h.make_node("Relu", ["c"], ["r"]),
                  h.make_node("AveragePool", ["r"], ["a"], kernel_shape=[3], pads=[1, 1], strides=[2]),
                  h.make_node("Mul", ["a", "a"], ["y"])],
                 [vi("x", [2, 4, 17])], [vi("y", [2, 6, 4])],
                 [const("w", rng.standard_normal((6, 2, 3)).astype(np.float32)),
                  const("b", rng.standard_normal(6).astype(np.float32))])
    res = _check_int8(_graph_of(model, tmp_path), tmp_path, lsb=3)
    assert res.float_layers == [] and {"QConv", "QAvgPool", "QMul"} <= {n.op for n in res.graph.nodes}


def test_resize_nearest_int8(tmp_path):
    """Nearest Resize only gathers: it runs on int8 with unchanged parameters; linear stays float."""
    rng = np.random.default_rng(12)
    model = make([h.make_node("Conv", ["x", "w"], ["c"]),
                  h.make_node("Resize", ["c", "", "sc"], ["u"], mode="nearest"),
                  h.make_node("Resize", ["c", "", "sc"], ["v"], mode="linear"),
                  h.make_node("Add", ["u", "v"], ["y"])],
                 [vi("x", [1, 2, 3, 4])], [vi("y", [1, 3, 6, 8])],
                 [const("w", rng.standard_normal((3, 2, 1, 1)).astype(np.float32)),
                  const("sc", np.array([1, 1, 2, 2], np.float32))], opset=13)
    res = _check_int8(_graph_of(model, tmp_path), tmp_path)
    ops = [n.op for n in res.graph.nodes]
    assert ops.count("Resize") == 2 and [s.split(" ")[-1] for s in res.float_layers] == ["(Resize)"]
    near = [n for n in res.graph.nodes if n.op == "Resize" and n.attrs["mode"] == "nearest"][0]
    assert res.graph.tensors[near.outputs[0]].dtype == "int8"


def _single_op_graph(op, x_shape, consts, attrs):
    from convc.compiler.ir import Graph, QuantParams, Tensor

    g = Graph("one")
    g.add_tensor(Tensor("x", tuple(x_shape), "int8"))
    g.inputs = ["x"]
    names = []
    for k, arr in enumerate(consts):
        names.append(g.add_const(f"c{k}", arr).name)
    node = Node("op", op, ["x", *names], ["y"], attrs)
    (shape, dtype), = get_op(op).infer(node, [g.tensors[i] for i in node.inputs])
    g.add_tensor(Tensor("y", shape, dtype))
    g.nodes = [node]
    g.outputs = ["y"]
    g.verify()
    return g


@pytest.mark.parametrize("seed", range(10))
def test_qconv_random_geometry_c_equals_oracle(seed, tmp_path):
    """QConv's C kernel against its integer reference on random geometries (1-D/2-D, groups,
    depthwise, strides, dilations, asymmetric pads, extreme zero points and multipliers)."""
    rng = np.random.default_rng(100 + seed)
    r = 1 if seed % 4 == 0 else 2
    g_ = int(rng.choice([1, 2, 3]))
    cg, mg = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if seed % 3 == 0:
        cg, mg = 1, int(rng.integers(1, 3))  # depthwise (with a channel multiplier)
    k = [int(rng.integers(1, 4)) for _ in range(r)]
    s = [int(rng.integers(1, 3)) for _ in range(r)]
    d = [int(rng.integers(1, 3)) for _ in range(r)]
    pads = [int(rng.integers(0, 3)) for _ in range(2 * r)]
    sp = [int(rng.integers(6, 11)) for _ in range(r)]
    m = g_ * mg
    x = rng.integers(-128, 128, (2, g_ * cg, *sp)).astype(np.int8)
    w = rng.integers(-127, 128, (m, cg, *k)).astype(np.int8)
    b = rng.integers(-50000, 50000, m).astype(np.int32)
    attrs = {"kernel_shape": k, "strides": s, "dilations": d, "pads": pads, "group": g_,
             "in_zp": int(rng.integers(-128, 128)), "out_zp": int(rng.integers(-30, 30)),
             "act_min": -128 + seed, "act_max": 127 - seed}
    acc = get_op("QConv").accumulate(Node("op", "QConv", [], [], attrs), x, w, b)
    span = np.abs(acc).max(axis=tuple(i for i in range(acc.ndim) if i != 1)) + 1
    attrs["multiplier"], attrs["shift"] = quantize_multipliers(rng.uniform(60, 200, m) / span)
    g = _single_op_graph("QConv", x.shape, [w, b], attrs)
    c = compile_graph(g, "c", tmp_path / "b")
    got = HostModel(c.out_dir).run({"x": x})["y"]
    want = reference.run(g, {"x": x})["y"]
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(want)) > 10


@pytest.mark.parametrize("seed", range(6))
def test_qavgpool_random_geometry_c_equals_oracle(seed, tmp_path):
    """QAvgPool (TFLM rounding, and the one-step requantizing form) on random windows, pads,
    ceil_mode and count_include_pad."""
    rng = np.random.default_rng(200 + seed)
    r = 1 if seed == 0 else 2
    k = [int(rng.integers(1, 4)) for _ in range(r)]
    attrs = {"kernel_shape": k, "strides": [int(rng.integers(1, 3)) for _ in range(r)],
             "dilations": [int(rng.integers(1, 3)) if seed % 2 else 1 for _ in range(r)],
             "pads": [int(rng.integers(0, kk)) for kk in k] * 2, "ceil_mode": seed % 2,
             "count_include_pad": int(seed in (2, 3, 5)), "zp": int(rng.integers(-128, 128))}
    x = rng.integers(-128, 128, (1, 3, *[int(rng.integers(5, 9)) for _ in range(r)])).astype(np.int8)
    if seed >= 3:  # requantize to other output parameters
        m, sh = get_op("QAvgPool").requant_tables(Node("p", "QAvgPool", [], [], attrs), x.shape, 0.05, 0.031)
        attrs.update({"out_zp": int(rng.integers(-20, 20)), "multiplier": m, "shift": sh})
    g = _single_op_graph("QAvgPool", x.shape, [], attrs)
    c = compile_graph(g, "c", tmp_path / "b")
    np.testing.assert_array_equal(HostModel(c.out_dir).run({"x": x})["y"], reference.run(g, {"x": x})["y"])


@pytest.mark.parametrize("op", ["QAdd", "QMul"])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (3, 1)), ((1, 4), (5, 1, 4))])
def test_qadd_qmul_broadcast_c_equals_oracle(op, shapes, tmp_path):
    from convc.compiler.ops.qadd import add_params

    rng = np.random.default_rng(len(shapes[1]))
    a = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    b = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    attrs = {"zp_a": -5, "zp_b": 17, "out_zp": 3, "act_min": -100, "act_max": 120}
    if op == "QAdd":
        attrs.update(add_params(0.04, 0.013, 0.05))
    else:
        m, s = quantize_multiplier(1 / 300)  # products up to 2^16 land in the int8 range
        attrs.update({"multiplier": m, "shift": s})
    g = _single_op_graph(op, a.shape, [b], attrs)
    c = compile_graph(g, "c", tmp_path / "b")
    want = reference.run(g, {"x": a})["y"]
    np.testing.assert_array_equal(HostModel(c.out_dir).run({"x": a})["y"], want)
    assert len(np.unique(want)) > 10
