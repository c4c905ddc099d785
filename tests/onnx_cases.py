"""ONNX conformance material shipped inside the onnx wheel, and a checker that runs one case
through the convc oracle and through the generated C on the host."""
from __future__ import annotations

import functools
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from convc.compiler.codegen.c import generate_c
from convc.compiler.frontend.onnx import import_model
from convc.compiler.output import write_dir
from convc.compiler.reference import run as run_reference
from convc.compiler.ops.registry import onnx_op_types
from convc.runtime.host import HostModel

ONNX_TEST_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


@functools.lru_cache(maxsize=1)
def node_cases() -> dict:
    """name -> (model, [(inputs, outputs)], rtol, atol) for every generated ONNX node test."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    return {c.name: (c.model, c.data_sets, c.rtol, c.atol) for c in cases}


def unsupported_dtype(model: onnx.ModelProto) -> str | None:
    """The reason a case is out of scope because of its element types, or None."""
    from convc.compiler.frontend.onnx import _ONNX_DTYPES

    g = model.graph
    types = [vi.type.tensor_type.elem_type for vi in list(g.input) + list(g.output)]
    types += [t.data_type for t in g.initializer]
    for n in g.node:
        for a in n.attribute:
            if a.name == "to":
                types.append(a.i)
    bad = sorted({onnx.TensorProto.DataType.Name(t) for t in types if t and t not in _ONNX_DTYPES})
    return f"element type {', '.join(bad)} is not supported by convc" if bad else None


def claimed_node_cases(exclusions: dict[str, str]) -> list[str]:
    """Node tests whose nodes all use ONNX ops convc claims, minus documented exclusions
    and cases whose element types convc does not support (see `excluded_node_cases`)."""
    return [n for n in _claimed_all() if n not in exclusions and n not in _dtype_excluded()]


def _claimed_all() -> list[str]:
    ours = set(onnx_op_types())
    names = []
    for name, (model, _, _, _) in sorted(node_cases().items()):
        ops = {n.op_type for n in model.graph.node}
        if ops and ops <= ours and not any(n.domain not in ("", "ai.onnx") for n in model.graph.node):
            names.append(name)
    return names


@functools.lru_cache(maxsize=1)
def _dtype_excluded() -> dict[str, str]:
    out = {}
    for name in _claimed_all():
        why = unsupported_dtype(node_cases()[name][0])
        if why:
            out[name] = why
    return out


def excluded_node_cases(exclusions: dict[str, str]) -> dict[str, str]:
    """Every claimed-op node test that is not run, with its reason."""
    out = dict(_dtype_excluded())
    out.update({k: v for k, v in exclusions.items() if k in set(_claimed_all())})
    return out


def _dir_case(folder: Path):
    model = onnx.load(str(folder / "model.onnx"))
    sets = []
    for ds in sorted(folder.glob("test_data_set_*")):
        ins = [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in sorted(ds.glob("input_*.pb"))]
        outs = [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in sorted(ds.glob("output_*.pb"))]
        sets.append((ins, outs))
    return model, sets


def folder_cases(kind: str) -> list[str]:
    d = ONNX_TEST_DATA / kind
    return sorted(p.name for p in d.iterdir() if (p / "model.onnx").exists())


def load_folder_case(kind: str, name: str):
    return _dir_case(ONNX_TEST_DATA / kind / name)


def _array(a) -> np.ndarray:
    return numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else np.asarray(a)


def _close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


def check_case(model: onnx.ModelProto, data_sets, rtol: float = 1e-3, atol: float = 1e-7,
               c_target: bool = True, tmp: str | None = None) -> None:
    """Import `model`, compare the oracle and (optionally) the generated C with the expected outputs."""
    graph = import_model(model)
    graph.verify()
    in_names = graph.inputs
    # the C target computes float32 in float32: allow a float32-sized error floor
    c_atol = max(atol, 1e-6)
    build = None
    for ins, outs in data_sets:
        feed = {n: _array(a) for n, a in zip(in_names, ins)}
        outs = [_array(a) for a in outs]
        ref = run_reference(graph, feed)
        for name, want in zip(graph.outputs, outs):
            _close(ref[name], np.asarray(want), rtol, atol)
        if not c_target:
            continue
        if build is None:
            d = tmp or tempfile.mkdtemp(prefix="convc-node-")
            build = HostModel(write_dir(os.path.join(d, "c"), generate_c(graph).files))
        got = build.run(feed)
        for name, want in zip(graph.outputs, outs):
            _close(got[name], np.asarray(want), rtol, c_atol)


# ops whose every input is structural (the whole node folds to a constant)
ALL_STRUCTURAL = ("ConstantOfShape", "Range")


def kept_inputs(model: onnx.ModelProto) -> int:
    return 0 if model.graph.node[0].op_type in ALL_STRUCTURAL else 1


def freeze_inputs(model: onnx.ModelProto, values) -> onnx.ModelProto:
    """Turn every structural graph input (all after the first, or all for ALL_STRUCTURAL ops)
    into an initializer holding `values[i]`."""
    keep = kept_inputs(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inputs = list(m.graph.input)
    del m.graph.input[keep:]
    for vi, v in zip(inputs[keep:], values[keep:]):
        m.graph.initializer.append(numpy_helper.from_array(_array(v), vi.name))
    return m
