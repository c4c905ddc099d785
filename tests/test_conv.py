"""Conv variants (1-D/2-D, groups, depthwise, dilation, strides, pads, auto_pad, no bias), with
BatchNorm folding and activation fusion, on the oracle and the C target vs ONNX Runtime."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import helper as h

from convc.compiler import reference
from convc.compiler.codegen.c import generate_c
from convc.compiler.frontend.onnx import import_model
from convc.compiler.output import write_dir
from convc.compiler.passes import run_passes
from convc.runtime.host import HostModel
from models import const, make, vi

CASES = {
    "2d_basic": dict(x=(1, 3, 9, 9), m=4, k=(3, 3), attrs={}),
    "2d_pads_strides": dict(x=(1, 3, 10, 11), m=5, k=(3, 2), attrs=dict(pads=[1, 0, 2, 1], strides=[2, 3])),
    "2d_dilated": dict(x=(1, 2, 12, 12), m=3, k=(3, 3), attrs=dict(dilations=[2, 3], pads=[1, 1, 1, 1])),
    "2d_groups": dict(x=(2, 4, 7, 7), m=6, k=(3, 3), attrs=dict(group=2, pads=[1, 1, 1, 1])),
    "2d_depthwise": dict(x=(1, 8, 8, 8), m=8, k=(3, 3), attrs=dict(group=8, pads=[1, 1, 1, 1], strides=[2, 2])),
    "2d_depthwise_mult": dict(x=(1, 4, 6, 6), m=8, k=(3, 3), attrs=dict(group=4)),
    "2d_same_lower": dict(x=(1, 3, 7, 8), m=2, k=(4, 3), attrs=dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    "2d_valid_nobias": dict(x=(1, 3, 7, 7), m=2, k=(2, 2), attrs=dict(auto_pad="VALID"), bias=False),
    "1d": dict(x=(1, 3, 20), m=4, k=(5,), attrs=dict(pads=[2, 1], strides=[2], dilations=[2])),
}


def conv_bn_act(x, m, k, attrs, bias=True, act="Relu"):
    rng = np.random.default_rng(0)
    c = x[1]
    g = attrs.get("group", 1)
    f32 = np.float32
    ins = ["x", "w"] + (["b"] if bias else [])
    inits = [const("w", rng.standard_normal((m, c // g, *k)).astype(f32) * 0.3)]
    if bias:
        inits.append(const("b", rng.standard_normal(m).astype(f32)))
    inits += [const("s", rng.uniform(0.5, 1.5, m).astype(f32)), const("o", rng.normal(0, .1, m).astype(f32)),
              const("mu", rng.normal(0, .1, m).astype(f32)), const("var", rng.uniform(.5, 1.5, m).astype(f32))]
    nodes = [h.make_node("Conv", ins, ["c"], name="conv", **attrs),
             h.make_node("BatchNormalization", ["c", "s", "o", "mu", "var"], ["n"], name="bn"),
             h.make_node(act, ["n"], ["y"], name="act")]
    return make(nodes, [vi("x", list(x))], [vi("y", None)], inits)


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_variant(case, tmp_path):
    spec = CASES[case]
    model = conv_bn_act(spec["x"], spec["m"], spec["k"], spec["attrs"], spec.get("bias", True))
    graph = run_passes(import_model(model))
    assert [n.op for n in graph.nodes] == ["Conv"] and graph.nodes[0].attrs["activation"]["op"] == "Relu"
    x = np.random.default_rng(1).standard_normal(spec["x"]).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    ref = reference.run(graph, {"x": x})["y"]
    got = HostModel(write_dir(tmp_path / "c", generate_c(graph).files)).run({"x": x})["y"]
    scale = np.abs(want).max()
    np.testing.assert_allclose(ref, want, atol=1e-5 * scale)
    np.testing.assert_allclose(got, want, atol=1e-5 * scale)
