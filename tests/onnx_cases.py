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


def claimed_node_cases(exclusions: dict[str, str]) -> list[str]:
    """Node tests whose nodes all use ONNX ops convc claims, minus documented exclusions."""
    ours = set(onnx_op_types())
    names = []
    for name, (model, _, _, _) in sorted(node_cases().items()):
        ops = {n.op_type for n in model.graph.node}
        if ops and ops <= ours and not any(n.domain not in ("", "ai.onnx") for n in model.graph.node):
            names.append(name)
    return [n for n in names if n not in exclusions]


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
        feed = {n: np.asarray(a) for n, a in zip(in_names, ins)}
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
