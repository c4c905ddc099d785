"""Shape sub-graphs (Shape/Gather/Unsqueeze/Concat/Cast/Range/ConstantOfShape/Slice/Equal/Where ->
Reshape/Expand/Tile) fold to constants once input shapes are fixed: on a real PyTorch export with a
dynamic batch axis and on hand-built Paddle/PyTorch-style chains; checked against ONNX Runtime."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h

from convc.compiler.driver import load_and_optimize
from convc.compiler.errors import UnsupportedError, UsageError
from convc.compiler.frontend.onnx import load
from convc.runtime.harness import validate
from models import const, make, vi

TORCH_EXPORT = Path(__file__).parent / "data" / "torch_dynamic_batch.onnx"
SHAPE_OPS = {"Shape", "Size", "Gather", "Unsqueeze", "Concat", "Cast", "Range", "ConstantOfShape", "Equal", "Where", "Div"}


def test_torch_export_has_shape_subgraphs():
    ops = {n.op_type for n in onnx.load(str(TORCH_EXPORT)).graph.node}
    assert {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Resize", "Slice", "ConvTranspose"} <= ops


@pytest.mark.parametrize("batch", [1, 2])
def test_torch_dynamic_batch_folds_and_validates(batch):
    shapes = {"input": (batch, 3, 8, 8)}
    graph = load_and_optimize(TORCH_EXPORT, shapes)
    left = {n.op for n in graph.nodes} & (SHAPE_OPS - {"Concat"})  # torch.cat of activations stays
    assert not left, f"shape arithmetic left at run time: {left}"
    assert all(graph.tensors[o].dtype == "float32" for n in graph.nodes for o in n.outputs)
    rep = validate(str(TORCH_EXPORT), "c", input_shapes=shapes, samples=3)
    assert rep["passed"], rep
    out = rep["outputs"][0]
    assert out["compared_with"] == "onnxruntime" and out["max_abs_err"] <= 1e-4 * out["scale"]


def test_torch_dynamic_batch_needs_input_shape():
    with pytest.raises(UsageError, match=r"input 'input' dimension 0 is dynamic \('N'\).*--input-shape input=N,3,8,8"):
        load(TORCH_EXPORT)


def _paddle_style(tmp_path):
    """x[N,C,H,W] -> Shape -> Slice(2:) -> ConstantOfShape/Range/Expand/Tile/Where, the way Paddle
    and PyTorch export view/expand with -1 and 0 entries."""
    nodes = [
        h.make_node("Shape", ["x"], ["shp"], name="shape"),
        h.make_node("Slice", ["shp", "s2", "s4"], ["hw"], name="slice_hw"),             # [H, W]
        h.make_node("ReduceProd", ["hw"], ["hw_prod"], keepdims=1, name="hw_prod"),   # [H*W]
        h.make_node("Gather", ["shp", "i1"], ["c"], axis=0, name="gather_c"),         # [C]
        h.make_node("Concat", ["minus1", "c", "hw_prod"], ["target"], axis=0, name="cat_target"),
        h.make_node("Reshape", ["x", "target"], ["x3"], name="reshape"),              # [N, C, H*W]
        # torch.reshape with a 0 entry: Where(Equal(t, 0), shape(x3), t)
        h.make_node("Shape", ["x3"], ["shp3"], name="shape3"),
        h.make_node("Equal", ["want", "zero"], ["is0"], name="eq0"),
        h.make_node("Where", ["is0", "shp3", "want"], ["want2"], name="where"),
        h.make_node("Reshape", ["x3", "want2"], ["x4"], name="reshape0"),
        # a bias row built with ConstantOfShape/Range and broadcast with Expand
        h.make_node("ConstantOfShape", ["hw_prod"], ["ones"], value=h.make_tensor("v", TP.FLOAT, [1], [1.0]), name="cos"),
        h.make_node("Size", ["ones"], ["n"], name="size"),
        h.make_node("Cast", ["n"], ["n_f"], to=TP.FLOAT, name="cast_n"),
        h.make_node("Range", ["zero_f", "n_f", "one_f"], ["ramp"], name="range"),
        h.make_node("Div", ["ramp", "n_f"], ["ramp01"], name="div"),
        h.make_node("Expand", ["ramp01", "shp3"], ["bias"], name="expand"),
        h.make_node("Add", ["x4", "bias"], ["y0"], name="add"),
        h.make_node("Tile", ["y0", "reps"], ["y"], name="tile"),
    ]
    inits = [const("s2", np.array([2], np.int64)), const("s4", np.array([4], np.int64)),
             const("i1", np.array([1], np.int64)), const("minus1", np.array([-1], np.int64)),
             const("want", np.array([0, 0, -1], np.int64)), const("zero", np.array(0, np.int64)),
             const("zero_f", np.array(0, np.float32)), const("one_f", np.array(1, np.float32)),
             const("reps", np.array([1, 2, 1], np.int64))]
    m = make(nodes, [vi("x", ["N", 3, 4, 5])], [vi("y", ["N", 6, 20])], inits)
    onnx.checker.check_model(m, full_check=True)
    path = tmp_path / "paddle_style.onnx"
    onnx.save(m, path)
    return path


def test_paddle_style_chain_folds_and_validates(tmp_path):
    path = _paddle_style(tmp_path)
    shapes = {"x": (2, 3, 4, 5)}
    graph = load_and_optimize(path, shapes)
    assert {n.op for n in graph.nodes} <= {"Reshape", "Add", "Tile"}, [n.op for n in graph.nodes]
    rep = validate(str(path), "c", input_shapes=shapes, samples=2)
    assert rep["passed"] and rep["outputs"][0]["compared_with"] == "onnxruntime", rep


def test_shape_from_values_is_refused_by_name(tmp_path):
    """A Reshape target computed from tensor *values* (not shapes) cannot be compiled statically."""
    nodes = [h.make_node("Cast", ["s"], ["s64"], to=TP.INT64, name="cast_values"),
             h.make_node("Reshape", ["x", "s64"], ["y"], name="reshape_by_values")]
    m = make(nodes, [vi("x", [1, 6]), vi("s", [2])], [vi("y", None)])
    path = tmp_path / "dyn.onnx"
    onnx.save(m, path)
    with pytest.raises(UnsupportedError, match=r"node 'reshape_by_values' \(Reshape\): input 1 \(shape\) must be a constant"):
        load(path)
