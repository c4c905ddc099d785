"""Resize / Upsample inside small graphs and alone, on the oracle and the C target, against
ONNX Runtime; and the refusals (tf_crop_and_resize, antialias, integer data, run-time scales)."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper as h

from convc.compiler.errors import UnsupportedError
from convc.compiler.frontend.onnx import import_model
from convc.runtime.harness import validate
from models import const, make, vi
from onnx_cases import check_case

F32 = np.float32


def ort_run(model, feed):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def resize_model(x_shape, attrs, scales=None, sizes=None, opset=19, op="Resize", dtype=TP.FLOAT, roi=None):
    """One Resize (or Upsample) node on input x; scales/sizes as initializers."""
    inits, ins = [], ["x"]
    if op == "Upsample" or opset == 10:
        if scales is not None:  # opset 9/10 input; opset 7 passes scales as an attribute
            inits.append(const("scales", np.asarray(scales, F32)))
            ins.append("scales")
    else:
        if roi is None and opset == 11:  # opset 11: roi and scales are required inputs (may be empty)
            roi = np.zeros(0, F32)
        if roi is not None:
            inits.append(const("roi", np.asarray(roi, F32)))
        ins.append("roi" if roi is not None else "")
        if scales is not None:
            inits.append(const("scales", np.asarray(scales, F32)))
        ins.append("scales" if scales is not None else "")
        if sizes is not None:
            inits.append(const("sizes", np.asarray(sizes, np.int64)))
            ins.append("sizes")
    node = h.make_node(op, ins, ["y"], name="rs", **attrs)
    return make([node], [vi("x", list(x_shape), dtype)], [vi("y", None, dtype)], inits, opset=opset)


# (input shape, attributes, scales, sizes, opset, op)
CASES = {
    "nearest_x2_default": ((1, 2, 3, 4), dict(mode="nearest"), [1, 1, 2, 2], None, 13, "Resize"),
    "nearest_fractional_up": ((1, 2, 5, 4), dict(mode="nearest"), [1, 1, 1.7, 2.3], None, 13, "Resize"),
    "nearest_down_sizes": ((1, 2, 7, 9), dict(mode="nearest"), None, [1, 2, 3, 4], 13, "Resize"),
    "nearest_ceil_half_pixel": ((1, 1, 4, 5), dict(mode="nearest", nearest_mode="ceil"), None, [1, 1, 7, 3], 13, "Resize"),
    "nearest_floor_asymmetric": ((1, 1, 4, 5), dict(mode="nearest", nearest_mode="floor", coordinate_transformation_mode="asymmetric"), [1, 1, 2, 2], None, 13, "Resize"),
    "nearest_prefer_ceil_align": ((1, 1, 4, 5), dict(mode="nearest", nearest_mode="round_prefer_ceil", coordinate_transformation_mode="align_corners"), None, [1, 1, 8, 3], 13, "Resize"),
    "nearest_tf_half_pixel_for_nn": ((1, 1, 4, 5), dict(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn"), [1, 1, 1.5, 0.6], None, 11, "Resize"),
    "nearest_opset11_sizes_empty_scales": ((1, 3, 4, 4), dict(mode="nearest"), [], [1, 3, 9, 6], 11, "Resize"),
    "linear_half_pixel_up": ((1, 2, 4, 5), dict(mode="linear"), [1, 1, 2, 3], None, 13, "Resize"),
    "linear_half_pixel_down": ((1, 2, 8, 9), dict(mode="linear"), None, [1, 2, 3, 5], 13, "Resize"),
    "linear_pytorch_half_pixel": ((1, 3, 5, 6), dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), None, [1, 3, 11, 1], 13, "Resize"),
    "linear_align_corners": ((1, 3, 5, 6), dict(mode="linear", coordinate_transformation_mode="align_corners"), None, [1, 3, 9, 13], 13, "Resize"),
    "linear_asymmetric": ((1, 2, 4, 4), dict(mode="linear", coordinate_transformation_mode="asymmetric"), [1, 1, 2.5, 1.5], None, 13, "Resize"),
    "linear_1d": ((2, 3, 7), dict(mode="linear"), [1, 1, 2.5], None, 13, "Resize"),
    "linear_trilinear_5d": ((1, 2, 3, 4, 5), dict(mode="linear"), [1, 1, 2, 1.5, 0.6], None, 13, "Resize"),
    "linear_2d_tensor": ((5, 6), dict(mode="linear"), [1.6, 0.5], None, 13, "Resize"),
    "cubic_up": ((1, 2, 4, 5), dict(mode="cubic"), [1, 1, 2, 2.5], None, 13, "Resize"),
    "cubic_down_sizes": ((1, 2, 9, 8), dict(mode="cubic"), None, [1, 2, 4, 3], 13, "Resize"),
    "cubic_a05_exclude_outside": ((1, 1, 5, 6), dict(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1), None, [1, 1, 8, 13], 13, "Resize"),
    "cubic_align_corners": ((1, 1, 5, 6), dict(mode="cubic", coordinate_transformation_mode="align_corners"), None, [1, 1, 8, 4], 13, "Resize"),
    "cubic_asymmetric": ((1, 1, 5, 6), dict(mode="cubic", coordinate_transformation_mode="asymmetric"), [1, 1, 2, 3], None, 13, "Resize"),
    "axes_sizes_opset18": ((1, 2, 5, 6), dict(mode="linear", axes=[3, 2]), None, [9, 4], 18, "Resize"),
    "axes_negative_scales": ((1, 2, 5, 6), dict(mode="nearest", axes=[-1]), [2.5], None, 18, "Resize"),
    "not_larger": ((1, 1, 4, 6), dict(mode="linear", axes=[2, 3], keep_aspect_ratio_policy="not_larger"), None, [7, 8], 18, "Resize"),
    "not_smaller": ((1, 1, 4, 6), dict(mode="nearest", axes=[2, 3], keep_aspect_ratio_policy="not_smaller"), None, [7, 8], 18, "Resize"),
    "half_pixel_symmetric": ((1, 1, 4, 5), dict(mode="linear", coordinate_transformation_mode="half_pixel_symmetric"), [1, 1, 1.7, 0.7], None, 19, "Resize"),
    "resize10_nearest_up": ((1, 2, 3, 4), dict(mode="nearest"), [1, 1, 2, 3], None, 10, "Resize"),
    "resize10_nearest_down": ((1, 2, 6, 7), dict(mode="nearest"), [1, 1, 0.6, 0.5], None, 10, "Resize"),
    "resize10_linear": ((1, 2, 3, 4), dict(mode="linear"), [1, 1, 2.5, 0.5], None, 10, "Resize"),
    "upsample9_nearest": ((1, 2, 3, 4), dict(mode="nearest"), [1, 1, 2, 3], None, 9, "Upsample"),
    "upsample9_linear": ((1, 2, 3, 4), dict(mode="linear"), [1, 1, 2, 1.5], None, 9, "Upsample"),
    "upsample9_same_shape_copies": ((1, 2, 2, 3), dict(mode="nearest"), [1, 1, 1.25, 1.0], None, 9, "Upsample"),
    "scalar_like_all_ones": ((1, 1, 1, 1), dict(mode="linear"), [1, 1, 1, 1], None, 13, "Resize"),
    "upsample7_nearest_attr": ((1, 2, 3, 4), dict(mode="nearest", scales=[1.0, 1.0, 3.0, 2.0]), None, None, 7, "Upsample"),
    "upsample7_linear_attr": ((1, 2, 3, 4), dict(mode="linear", scales=[1.0, 1.0, 2.0, 2.5]), None, None, 7, "Upsample"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_resize_vs_onnxruntime(case, tmp_path):
    shape, attrs, scales, sizes, opset, op = CASES[case]
    model = resize_model(shape, attrs, scales, sizes, opset, op)
    x = np.random.default_rng(0).standard_normal(shape).astype(F32)
    want = ort_run(model, {"x": x})[0]
    check_case(model, [([x], [want])], rtol=1e-4, atol=1e-5, tmp=str(tmp_path))


def test_resize_float64(tmp_path):
    """ONNX Runtime has no double Resize: compare with ONNX's reference evaluator (which loses
    ~1e-6 somewhere on the way), and the C double kernel with the oracle to double precision."""
    from onnx.reference import ReferenceEvaluator

    from convc.compiler import reference
    from convc.compiler.codegen.c import generate_c
    from convc.compiler.output import write_dir
    from convc.runtime.host import HostModel

    model = resize_model((1, 2, 4, 5), dict(mode="cubic"), [1, 1, 1.5, 2], dtype=TP.DOUBLE)
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 5))
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    graph = import_model(model)
    ref = reference.run(graph, {"x": x})["y"]
    got = HostModel(write_dir(tmp_path / "c", generate_c(graph).files)).run({"x": x})["y"]
    assert ref.dtype == got.dtype == np.float64
    np.testing.assert_allclose(ref, want, atol=2e-6)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_output_extent_follows_onnx_shape_inference():
    """floor(5 * 1.8f) is 8 in ONNX (shape inference and reference: the float32 scale times the
    extent in double); ONNX Runtime multiplies in float32 and gets 9. convc follows ONNX."""
    import onnx

    model = resize_model((5, 6), dict(mode="linear"), [1.8, 0.5], None, 13)
    dims = onnx.shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [8, 3]
    assert import_model(model).tensors["y"].shape == (8, 3)


def conv_resize_conv(mode_attrs, scales_node, opset=13):
    """Conv(3→4) → Relu → Resize → Conv(4→2): a decoder / FPN-style upsampling block."""
    rng = np.random.default_rng(0)
    inits = [const("w1", (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(F32)), const("b1", rng.standard_normal(4).astype(F32)),
             const("w2", (rng.standard_normal((2, 4, 3, 3)) * 0.3).astype(F32)), const("b2", rng.standard_normal(2).astype(F32))]
    nodes = [h.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             scales_node,
             h.make_node("Resize", ["r1", "", "scales"], ["up"], name="up", **mode_attrs),
             h.make_node("Conv", ["up", "w2", "b2"], ["y"], name="conv2", pads=[1, 1, 1, 1])]
    return make(nodes, [vi("x", [1, 3, 6, 7])], [vi("y", None)], inits, opset=opset)


def _validate(model, tmp_path):
    import onnx

    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    rep = validate(str(path), "c", samples=2, build_dir=str(tmp_path / "build"))
    assert rep["passed"], rep
    assert all(o["compared_with"] == "onnxruntime" for o in rep["outputs"])
    return rep


def test_conv_nearest_x2_conv(tmp_path):
    """Scales from a Constant node (as the PyTorch exporter writes them), nearest x2."""
    scales = h.make_node("Constant", [], ["scales"], name="scales_c",
                         value=h.make_tensor("v", TP.FLOAT, [4], [1, 1, 2, 2]))
    model = conv_resize_conv(dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"), scales)
    graph = import_model(model)
    resize = [n for n in graph.nodes if n.op == "Resize"]
    assert len(resize) == 1 and resize[0].inputs == ["r1"] and resize[0].attrs["sizes"] == [1, 4, 12, 14]
    _validate(model, tmp_path)


def test_pytorch_bilinear_upsample(tmp_path):
    """F.interpolate(scale_factor=2, mode='bilinear', align_corners=False) exports as linear + pytorch_half_pixel."""
    scales = h.make_node("Constant", [], ["scales"], name="scales_c",
                         value=h.make_tensor("v", TP.FLOAT, [4], [1, 1, 2, 2]))
    model = conv_resize_conv(dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), scales)
    _validate(model, tmp_path)


def test_pytorch_bilinear_align_corners_sizes(tmp_path):
    """align_corners=True with a target size computed by Shape → Gather → Concat (folded at import)."""
    rng = np.random.default_rng(1)
    inits = [const("w", (rng.standard_normal((2, 3, 3, 3)) * 0.3).astype(F32)), const("idx", np.array([0, 1], np.int64)),
             const("hw", np.array([11, 9], np.int64))]
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             h.make_node("Shape", ["c"], ["s"], name="shape"),
             h.make_node("Gather", ["s", "idx"], ["nc"], name="gather", axis=0),
             h.make_node("Concat", ["nc", "hw"], ["sizes"], name="cat", axis=0),
             h.make_node("Resize", ["c", "", "", "sizes"], ["y"], name="up", mode="linear",
                         coordinate_transformation_mode="align_corners")]
    model = make(nodes, [vi("x", [1, 3, 5, 4])], [vi("y", None)], inits, opset=13)
    graph = import_model(model)
    assert [n.op for n in graph.nodes] == ["Conv", "Resize"]
    _validate(model, tmp_path)


def test_c_kernel_merges_untouched_axes():
    """N and C (not resized) become one loop; each resized axis gets one offset table (nearest: no weights)."""
    from convc.compiler.codegen.c import generate_c

    graph = import_model(resize_model((2, 3, 4, 5), dict(mode="nearest"), [1, 1, 2, 2]))
    src = generate_c(graph).files["model.c"]
    assert "i0 < 6;" in src and "i1 < 8;" in src and "i2 < 10;" in src and "_w[" not in src
    graph = import_model(resize_model((2, 3, 4, 5), dict(mode="linear"), None, [2, 3, 4, 9]))
    src = generate_c(graph).files["model.c"]
    assert "t1 < 2;" in src and "t0 <" not in src  # only the last axis is resized


@pytest.mark.parametrize("attrs,scales,sizes,opset,dtype,match", [
    (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"), None, [1, 1, 3, 3], 13, TP.FLOAT, "tf_crop_and_resize"),
    (dict(mode="linear", antialias=1), [1, 1, 0.5, 0.5], None, 18, TP.FLOAT, "antialias"),
    (dict(mode="nearest"), [1, 1, 2, 2], None, 13, TP.UINT8, "element type uint8"),
    (dict(mode="area"), [1, 1, 2, 2], None, 13, TP.FLOAT, "mode 'area'"),
    (dict(mode="nearest", exclude_outside=1), [1, 1, 2, 2], None, 13, TP.FLOAT, "exclude_outside=1 with mode 'nearest'"),
    (dict(mode="nearest"), [1, 1, 2, 2], [1, 1, 8, 8], 13, TP.FLOAT, "exactly one of"),
])
def test_refused(attrs, scales, sizes, opset, dtype, match):
    roi = [0, 0, 0.2, 0.2, 1, 1, 0.8, 0.8] if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize" else None
    model = resize_model((1, 1, 4, 4), attrs, scales, sizes, opset, dtype=dtype, roi=roi)
    with pytest.raises(UnsupportedError, match=match):
        import_model(model)


def test_runtime_scales_refused():
    node = h.make_node("Resize", ["x", "", "s"], ["y"], name="rs", mode="nearest")
    model = make([node], [vi("x", [1, 1, 4, 4]), vi("s", [4])], [vi("y", None)], opset=13)
    with pytest.raises(UnsupportedError, match=r"input 2 \(scales\) must be a constant"):
        import_model(model)
