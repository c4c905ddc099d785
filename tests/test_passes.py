"""Each pass keeps the oracle's numerics (run before and after) and does its job."""
import numpy as np
from onnx import helper as h

from convc.compiler.frontend.onnx import import_model
from convc.compiler.passes import run_passes
from convc.compiler.passes.canonicalize import canonicalize
from convc.compiler.passes.dead_code import eliminate_dead
from convc.compiler.passes.fold_batchnorm import fold_batchnorm
from convc.compiler.passes.fold_constants import fold_constants
from convc.compiler.passes.fuse_activation import fuse_activation
from convc.compiler import reference
from models import const, make, vi


def mlp_with_bn():
    rng = np.random.default_rng(0)
    f32 = np.float32
    return make(
        [h.make_node("Gemm", ["x", "w1", "b1"], ["g1"], name="fc1", transB=1),
         h.make_node("BatchNormalization", ["g1", "s", "o", "m", "v"], ["n1"], name="bn1", epsilon=1e-3),
         h.make_node("Relu", ["n1"], ["a1"], name="relu1"),
         h.make_node("Identity", ["a1"], ["i1"], name="id"),
         h.make_node("Dropout", ["i1"], ["d1"], name="drop"),
         h.make_node("Gemm", ["d1", "w2"], ["g2"], name="fc2"),
         h.make_node("Clip", ["g2", "lo", "hi"], ["y"], name="relu6"),
         h.make_node("Relu", ["x"], ["unused"], name="dead")],
        [vi("x", [1, 16])], [vi("y", [1, 8])],
        [const("w1", rng.standard_normal((12, 16)).astype(f32)), const("b1", rng.standard_normal(12).astype(f32)),
         const("s", rng.uniform(0.5, 1.5, 12).astype(f32)), const("o", rng.normal(0, 0.1, 12).astype(f32)),
         const("m", rng.normal(0, 0.1, 12).astype(f32)), const("v", rng.uniform(0.5, 1.5, 12).astype(f32)),
         const("w2", rng.standard_normal((12, 8)).astype(f32)),
         const("lo", f32(0)), const("hi", f32(6))])


def _graph_and_inputs():
    g = import_model(mlp_with_bn())
    g.verify()
    xs = [{"x": np.random.default_rng(k).standard_normal((1, 16)).astype(np.float32)} for k in range(4)]
    return g, xs


def _check_pass(p, expect_ops_removed):
    g, xs = _graph_and_inputs()
    before = [reference.run(g, x)["y"] for x in xs]
    ops_before = [n.op for n in g.nodes]
    changed = p(g)
    g.verify()
    assert changed
    after = [reference.run(g, x)["y"] for x in xs]
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    ops_after = [n.op for n in g.nodes]
    for op in expect_ops_removed:
        assert ops_after.count(op) < ops_before.count(op), (op, ops_before, ops_after)
    return g


def test_canonicalize_removes_identity_and_dropout():
    g = _check_pass(canonicalize, ["Identity"])
    assert "Identity" not in [n.op for n in g.nodes]


def test_fold_batchnorm_into_gemm():
    g = _check_pass(fold_batchnorm, ["BatchNormalization"])
    assert "BatchNormalization" not in [n.op for n in g.nodes]


def test_fuse_activation_into_gemm():
    g, xs = _graph_and_inputs()
    canonicalize(g)
    fold_batchnorm(g)
    before = [reference.run(g, x)["y"] for x in xs]
    assert fuse_activation(g)
    g.verify()
    fused = {n.name: n.attrs.get("activation", {}).get("op") for n in g.nodes if n.op == "Gemm"}
    assert fused == {"fc1": "Relu", "fc2": "Clip"}
    for x, b in zip(xs, before):
        np.testing.assert_allclose(reference.run(g, x)["y"], b, rtol=1e-6)


def test_eliminate_dead():
    g = _check_pass(eliminate_dead, [])
    assert "dead" not in [n.name for n in g.nodes]


def test_fold_constants():
    f32 = np.float32
    m = make([h.make_node("Mul", ["c1", "c2"], ["c3"], name="const_mul"),
              h.make_node("Add", ["x", "c3"], ["y"], name="add")],
             [vi("x", [1, 4])], [vi("y", [1, 4])],
             [const("c1", np.arange(4, dtype=f32)), const("c2", np.full(4, 2, f32))])
    g = import_model(m)  # the frontend already folds constant nodes on import
    assert [n.op for n in g.nodes] == ["Add"]
    np.testing.assert_array_equal(g.const("c3"), np.arange(4) * 2)
    assert not fold_constants(g)


def test_pipeline_end_to_end_matches_unoptimized():
    g, xs = _graph_and_inputs()
    before = [reference.run(g, x)["y"] for x in xs]
    log = []
    run_passes(g, log=log)
    assert [n.op for n in g.nodes] == ["Gemm", "Gemm"]
    assert len(log) == 7  # one line per pass of the default pipeline
    for x, b in zip(xs, before):
        np.testing.assert_allclose(reference.run(g, x)["y"], b, rtol=1e-5, atol=1e-5)


def test_fold_pad_into_conv_matches_onnxruntime(tmp_path):
    import onnxruntime as ort

    from convc.compiler.codegen.c import generate_c
    from convc.compiler.output import write_dir
    from convc.runtime.host import HostModel

    rng = np.random.default_rng(3)
    m = make([h.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode="constant"),
              h.make_node("Conv", ["p", "w"], ["y"], name="conv", kernel_shape=[3, 3], pads=[0, 1, 0, 1])],
             [vi("x", [1, 2, 6, 6])], [vi("y", [1, 3, 6, 6])],
             [const("pads", np.array([0, 0, 1, 0, 0, 0, 1, 0], np.int64)),
              const("w", rng.standard_normal((3, 2, 3, 3)).astype(np.float32))])
    g = import_model(m)
    assert [n.op for n in g.nodes] == ["Pad", "Conv"]
    run_passes(g)
    assert [n.op for n in g.nodes] == ["Conv"] and g.nodes[0].attrs["pads"] == [1, 1, 1, 1]
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(reference.run(g, {"x": x})["y"], want, atol=1e-5)
    got = HostModel(write_dir(tmp_path / "c", generate_c(g).files)).run({"x": x})["y"]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_fold_batchnorm_and_relu6_into_grouped_conv_transpose_matches_onnxruntime(tmp_path):
    """ConvTranspose (groups=2, stride 2) + BatchNormalization + Clip(0, 6): BN folds into the
    (C, M/group, k, k) weights, the clamp fuses, and oracle and C agree with ONNX Runtime."""
    import onnxruntime as ort

    from convc.compiler.codegen.c import generate_c
    from convc.compiler.output import write_dir
    from convc.runtime.host import HostModel

    rng = np.random.default_rng(5)
    f32 = np.float32
    m = make([h.make_node("ConvTranspose", ["x", "w", "b"], ["t"], name="deconv", group=2, strides=[2, 2],
                          pads=[1, 1, 0, 0], output_padding=[1, 1]),
              h.make_node("BatchNormalization", ["t", "s", "o", "mu", "var"], ["n"], name="bn"),
              h.make_node("Clip", ["n", "lo", "hi"], ["y"], name="relu6")],
             [vi("x", [1, 4, 5, 5])], [vi("y", None)],
             [const("w", rng.standard_normal((4, 3, 3, 3)).astype(f32)), const("b", rng.standard_normal(6).astype(f32)),
              const("s", rng.uniform(0.5, 1.5, 6).astype(f32)), const("o", rng.normal(0, 0.3, 6).astype(f32)),
              const("mu", rng.normal(0, 0.3, 6).astype(f32)), const("var", rng.uniform(0.5, 1.5, 6).astype(f32)),
              const("lo", f32(0)), const("hi", f32(6))])
    g = import_model(m)
    x = rng.standard_normal((1, 4, 5, 5)).astype(f32)
    before = reference.run(g, {"x": x})["y"]
    run_passes(g)
    assert [n.op for n in g.nodes] == ["ConvTranspose"] and g.nodes[0].attrs["activation"]["op"] == "Clip"
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert want.shape == (1, 6, 11, 11)  # 2*(5-1) + 3 + 1 (output_padding) - 1 (pads)
    np.testing.assert_allclose(before, want, atol=1e-5)
    np.testing.assert_allclose(reference.run(g, {"x": x})["y"], want, atol=1e-5)
    got = HostModel(write_dir(tmp_path / "c", generate_c(g).files)).run({"x": x})["y"]
    np.testing.assert_allclose(got, want, atol=1e-5)
