"""QDQ models quantized by ONNX Runtime (`onnxruntime.quantization.quantize_static`, int8 activations
and per-channel int8 weights) import with their own scales, compile to the int8 C target without
`--calib`, equal convc's integer oracle bit for bit, and agree with ONNX Runtime's own int8
execution of the QDQ model within 1 LSB on at least 99 % of output elements (ORT requantizes in
float, so exact equality is not expected)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from convc.compiler.driver import load_and_optimize
from convc.runtime.data import random_data
from convc.runtime.harness import validate
from networks import ALL
from test_quantize import DIGITS


class _Reader(CalibrationDataReader):
    def __init__(self, name, x):
        self.it = iter([{name: v[None]} for v in x])

    def get_next(self):
        return next(self.it, None)


def ort_qdq(src, dst, name, calib):
    pre = dst.with_name(dst.stem + "_pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), _Reader(name, calib), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    return dst



@pytest.mark.parametrize("name", ["digits", "resnet_block"])
def test_ort_qdq_model_imports_and_runs_int8(name, tmp_path):
    if name == "digits":
        src = DIGITS / "digits.onnx"
        calib = np.load(DIGITS / "digits_calib.npz")["input"]
        data = str(DIGITS / "digits_test.npz")
    else:
        src = tmp_path / f"{name}.onnx"
        onnx.save(ALL[name](), src)
        g = load_and_optimize(src)
        calib = random_data(g, 32, seed=1)[g.inputs[0]]
        data = str(tmp_path / "test.npz")
        np.savez(data, **{g.inputs[0]: random_data(g, 24, seed=2)[g.inputs[0]]})
    qdq = ort_qdq(src, tmp_path / f"{name}_qdq.onnx", load_and_optimize(src).inputs[0], calib)
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load(qdq).graph.node)

    rep = validate(str(qdq), "c", data=data)  # no --quantize, no --calib: the model's own scales
    assert rep["passed"] is True and rep["quantize"] == "int8"
    assert rep["calibration"]["method"] == "imported" and rep["float_layers"] == []
    (out,) = rep["outputs"]
    assert out["mismatches"] == 0 and out["compared_with"] == "onnxruntime"

    # vs ONNX Runtime running the QDQ model (its int8 kernels): within one output step
    from convc.compiler.quantize.pipeline import quantize_model
    from convc.runtime.data import load_data, sample
    from convc.runtime.harness import run_onnxruntime
    from convc.compiler import reference

    g = load_and_optimize(qdq)
    q = quantize_model(g, "int8", None).graph
    last = [n for n in q.nodes if n.outputs[0] == q.outputs[0]][0]
    assert last.op == "DequantizeLinear"
    lsb = last.attrs["scale"]
    arrays, _ = load_data(data, g)
    ort_out = np.stack(run_onnxruntime(str(qdq), arrays, g)[q.outputs[0]])
    ours = np.stack([reference.run(q, sample(arrays, i, g))[q.outputs[0]] for i in range(len(ort_out))])
    steps = np.abs(ours - ort_out) / lsb
    frac = float(np.mean(steps <= 1 + 1e-3))
    print(f"{name}: {100 * frac:.2f}% of {steps.size} output elements within 1 LSB of ONNX Runtime int8, "
          f"{100 * float(np.mean(steps < 1e-3)):.2f}% equal, max {steps.max():.2f} LSB")
    assert frac >= 0.99
    if name == "digits":
        assert rep["accuracy"]["target"] >= rep["accuracy"]["float"] - 0.01  # "float" = ORT on the QDQ file


def test_fold_qdq_annotates_and_keeps_output_names(tmp_path):
    """Q→DQ pairs vanish into `Tensor.quant`; a pair ending at a graph output keeps that output's
    name; DequantizeLinear of constant weights folds to float data that keeps its per-channel scales;
    uint8 tensors become int8 with zero point − 128."""
    from onnx import TensorProto as TP
    from onnx import helper as h

    from models import const, make, vi

    w = np.arange(-8, 10, dtype=np.int8).reshape(2, 1, 3, 3)
    model = make([
        h.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
        h.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
        h.make_node("DequantizeLinear", ["w", "sw", "zw"], ["wd"], axis=0),
        h.make_node("Conv", ["xd", "wd"], ["c"]),
        h.make_node("QuantizeLinear", ["c", "sy", "zy"], ["cq"]),
        h.make_node("DequantizeLinear", ["cq", "sy", "zy"], ["y"]),
    ], [vi("x", [1, 1, 5, 5])], [vi("y", [1, 2, 3, 3])],
        [const("sx", np.float32(0.02)), const("zx", np.uint8(130)), const("w", w),
         const("sw", np.array([0.01, 0.03], np.float32)), const("zw", np.zeros(2, np.int8)),
         const("sy", np.float32(0.05)), const("zy", np.int8(-4))])
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    g = load_and_optimize(p)
    assert [n.op for n in g.nodes] == ["Conv"] and g.outputs == ["y"]
    assert (float(g.tensors["x"].quant.scale[0]), int(g.tensors["x"].quant.zero_point[0])) == (np.float32(0.02), 2)
    assert int(g.tensors["y"].quant.zero_point[0]) == -4
    wt = g.tensors[g.nodes[0].inputs[1]]
    assert wt.quant.axis == 0 and wt.quant.scale.tolist() == np.array([0.01, 0.03], np.float32).tolist()
    from convc.compiler.quantize.pipeline import quantize_model

    q = quantize_model(g, "int8", None).graph
    qconv = [n for n in q.nodes if n.op == "QConv"][0]
    np.testing.assert_array_equal(q.tensors[qconv.inputs[1]].data, w)  # the model's int8 weights, unchanged
    assert qconv.attrs["in_zp"] == 2 and qconv.attrs["out_zp"] == -4


def _export_and_check(g, res, path, feeds):
    """Write the int8 graph as QDQ; ORT runs it within one output step of the integer oracle on
    ≥ 99 % of elements; re-importing it gives back the same integer graph, bit for bit."""
    from convc.compiler import reference
    from convc.compiler.quantize.export import write_qdq
    from convc.compiler.quantize.pipeline import quantize_model

    write_qdq(res.graph, path)
    o = g.outputs[0]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ours = np.stack([reference.run(res.graph, f)[o] for f in feeds])
    theirs = np.stack([sess.run(None, f)[0] for f in feeds])
    lsb = [n for n in res.graph.nodes if n.outputs == [o]][0].attrs["scale"]
    steps = np.abs(ours - theirs) / lsb
    frac = float(np.mean(steps <= 1 + 1e-3))
    back = quantize_model(load_and_optimize(path), "int8", None)
    assert back.float_layers == []
    again = np.stack([reference.run(back.graph, f)[o] for f in feeds])
    np.testing.assert_array_equal(again, ours)
    return frac, float(steps.max())


def test_cli_quantize_exports_qdq_digits(tmp_path, capsys):
    from convc.compiler.cli import main
    from convc.runtime.data import load_data, sample

    out = tmp_path / "digits_int8.onnx"
    rc = main(["quantize", str(DIGITS / "digits.onnx"), "--calib", str(DIGITS / "digits_calib.npz"), "-o", str(out)])
    assert rc == 0 and "QDQ int8 model (8 int8 layers" in capsys.readouterr().out
    g = load_and_optimize(DIGITS / "digits.onnx")
    from convc.compiler.quantize.pipeline import quantize_model

    res = quantize_model(g, "int8", str(DIGITS / "digits_calib.npz"))
    arrays, labels = load_data(DIGITS / "digits_test.npz", g)
    feeds = [sample(arrays, i, g) for i in range(len(labels))]
    frac, worst = _export_and_check(g, res, tmp_path / "again.onnx", feeds)
    assert out.read_bytes() == (tmp_path / "again.onnx").read_bytes()  # deterministic
    print(f"digits export: {100 * frac:.2f}% within 1 LSB of ONNX Runtime, max {worst:.2f} LSB")
    assert frac >= 0.99
    # and the exported file compiles to C with its own scales, bit-exact with the integer oracle
    rep = validate(str(out), "c", data=str(DIGITS / "digits_test.npz"))
    assert rep["passed"] and rep["outputs"][0]["mismatches"] == 0
    assert rep["accuracy"]["target"] == rep["accuracy"]["reference"]


@pytest.mark.parametrize("name", ["resnet_block", "squeezenet", "mobilenetv2", "dscnn"])
def test_export_round_trip_networks(name, tmp_path):
    """Add, Concat with requantized inputs, Relu6 clamps, AveragePool: the exported file re-imports
    to the same integer graph."""
    from convc.compiler.quantize.rewrite import quantize_graph
    from convc.runtime.data import sample

    p = tmp_path / f"{name}.onnx"
    onnx.save(ALL[name](), p)
    g = load_and_optimize(p)
    res = quantize_graph(g, random_data(g, 16, seed=1))
    test = random_data(g, 4, seed=2)
    frac, worst = _export_and_check(g, res, tmp_path / "q.onnx", [sample(test, i, g) for i in range(4)])
    print(f"{name} export: {100 * frac:.2f}% within 1 LSB of ONNX Runtime, max {worst:.2f} LSB")


def test_export_refuses_mixed_precision(tmp_path):
    from onnx import helper as h

    from convc.compiler.errors import UnsupportedError
    from convc.compiler.quantize.export import write_qdq
    from convc.compiler.quantize.rewrite import quantize_graph
    from models import const, make, vi

    model = make([h.make_node("Conv", ["x", "w"], ["c"]), h.make_node("Softmax", ["c"], ["y"], axis=1)],
                 [vi("x", [1, 2, 3, 3])], [vi("y", [1, 2, 3, 3])], [const("w", np.ones((2, 2, 1, 1), np.float32))])
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    g = load_and_optimize(p)
    res = quantize_graph(g, random_data(g, 16))
    with pytest.raises(UnsupportedError, match=r"layer '.*' \(Softmax\) runs in float"):
        write_qdq(res.graph, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_export_round_trip_softmax_and_luts(tmp_path):
    from onnx import helper as h

    from convc.compiler.quantize.rewrite import quantize_graph
    from convc.runtime.data import sample
    from models import const, make, vi

    rng = np.random.default_rng(9)
    model = make([h.make_node("Gemm", ["x", "w", "b"], ["z"], transB=1), h.make_node("HardSwish", ["z"], ["a"]),
                  h.make_node("Sigmoid", ["a"], ["s"]), h.make_node("Softmax", ["s"], ["y"])],
                 [vi("x", [1, 20])], [vi("y", [1, 8])],
                 [const("w", rng.standard_normal((8, 20)).astype(np.float32)),
                  const("b", rng.standard_normal(8).astype(np.float32))])
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    g = load_and_optimize(p)
    res = quantize_graph(g, random_data(g, 32, seed=1))
    assert {"QSoftmax", "QLut"} <= {n.op for n in res.graph.nodes}
    test = random_data(g, 8, seed=2)
    frac, worst = _export_and_check(g, res, tmp_path / "q.onnx", [sample(test, i, g) for i in range(8)])
    assert worst <= 2


@pytest.mark.parametrize("zp_dtype", [np.uint8, np.int8])
def test_quantize_dequantize_ops_match_onnxruntime(zp_dtype, tmp_path):
    """Standalone QuantizeLinear (its int8/uint8 output is a graph output) and a Q→DQ pair, in C,
    against ONNX Runtime (random reals: no exact ties, where ONNX rounds to even and TFLM away)."""
    from onnx import TensorProto as TP
    from onnx import helper as h

    from convc.compiler.driver import compile_graph
    from convc.runtime.host import HostModel
    from models import const, make, vi

    zp = np.array(130 if zp_dtype == np.uint8 else -7, zp_dtype)
    model = make([h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                  h.make_node("QuantizeLinear", ["x", "s", "z"], ["q2"]),
                  h.make_node("DequantizeLinear", ["q2", "s", "z"], ["y"])],
                 [vi("x", [1, 3, 50])], [vi("q", [1, 3, 50], TP.UINT8 if zp_dtype == np.uint8 else TP.INT8),
                                         vi("y", [1, 3, 50])],
                 [const("s", np.float32(0.037)), const("z", zp)])
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    g = load_and_optimize(p)
    assert g.tensors["q"].dtype == np.dtype(zp_dtype).name
    from convc.compiler.quantize.pipeline import quantize_model

    q = quantize_model(g, "int8", None).graph  # the Q→DQ pair made x's parameters known
    c = compile_graph(q, "c", tmp_path / "b")
    hm = HostModel(c.out_dir)
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    x = (np.random.default_rng(0).standard_normal((1, 3, 50)) * 4).astype(np.float32)
    got = hm.run({"x": x})
    want = dict(zip(["q", "y"], sess.run(None, {"x": x})))
    np.testing.assert_array_equal(got["q"], want["q"])
    np.testing.assert_array_equal(got["y"], want["y"])
    assert got["q"].dtype == zp_dtype and len(np.unique(got["q"])) > 50


def test_qoperator_qlinearconv_qlinearmatmul(tmp_path):
    """The QOperator form: QuantizeLinear → QLinearConv (per-channel int8 weights, int32 bias) →
    MaxPool and Reshape on int8 → QLinearMatMul → DequantizeLinear. Imported with the model's own
    parameters, all int8 in convc (no float layers), C bit-exact with the integer oracle, and
    within one step of ONNX Runtime."""
    from onnx import TensorProto as TP
    from onnx import helper as h

    from convc.compiler import reference
    from convc.compiler.driver import compile_graph
    from convc.compiler.quantize.pipeline import quantize_model
    from convc.runtime.host import HostModel
    from models import const, make, vi

    rng = np.random.default_rng(4)
    w = rng.integers(-127, 128, (6, 3, 3, 3)).astype(np.int8)
    ws = (rng.random(6) * 0.01 + 0.002).astype(np.float32)
    bias = rng.integers(-2000, 2000, 6).astype(np.int32)
    wm = rng.integers(-127, 128, (54, 10)).astype(np.int8)
    model = make([
        h.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        h.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "cs", "cz", "b"], ["c"], pads=[1, 1, 1, 1]),
        h.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Reshape", ["p", "shape"], ["r"]),
        h.make_node("QLinearMatMul", ["r", "cs", "cz", "wm", "wms", "wmz", "ys", "yz"], ["yq"]),
        h.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ], [vi("x", [1, 3, 6, 6])], [vi("y", [1, 10])],
        [const("xs", np.float32(0.02)), const("xz", np.int8(-3)), const("w", w), const("ws", ws),
         const("wz", np.zeros(6, np.int8)), const("cs", np.float32(0.05)), const("cz", np.int8(-20)),
         const("b", bias), const("shape", np.array([1, 54], np.int64)), const("wm", wm),
         const("wms", np.float32(0.004)), const("wmz", np.int8(0)), const("ys", np.float32(0.3)),
         const("yz", np.int8(5))])
    p = tmp_path / "m.onnx"
    onnx.save(model, p)
    g = load_and_optimize(p)
    res = quantize_model(g, "int8", None)
    assert res.float_layers == [] and {"QConv", "QGemm", "MaxPool"} <= {n.op for n in res.graph.nodes}
    qconv = [n for n in res.graph.nodes if n.op == "QConv"][0]
    np.testing.assert_array_equal(res.graph.tensors[qconv.inputs[1]].data, w)
    np.testing.assert_array_equal(res.graph.tensors[qconv.inputs[2]].data, bias)
    hm = HostModel(compile_graph(res.graph, "c", tmp_path / "b").out_dir)
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    xs = (rng.standard_normal((16, 1, 3, 6, 6)) * 1.5).astype(np.float32)
    ours = np.stack([reference.run(res.graph, {"x": x})["y"] for x in xs])
    np.testing.assert_array_equal(np.stack([hm.run({"x": x})["y"] for x in xs]), ours)
    theirs = np.stack([sess.run(None, {"x": x})[0] for x in xs])
    steps = np.abs(ours - theirs) / np.float32(0.3)
    assert np.mean(steps <= 1 + 1e-3) >= 0.99 and len(np.unique(theirs)) > 20
