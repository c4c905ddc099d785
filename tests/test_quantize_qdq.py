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
