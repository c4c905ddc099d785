"""Real architectures (examples/networks.py) validate on the C target against ONNX Runtime:
max abs error <= 1e-4 of the output scale, BatchNorm folded, activations fused."""
import onnx
import pytest

from convc.compiler.driver import load_and_optimize
from convc.runtime.harness import validate
from networks import ALL


@pytest.mark.parametrize("name", sorted(ALL))
def test_network_validates_on_c(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    onnx.save(ALL[name](), path)
    graph = load_and_optimize(path)
    ops = [n.op for n in graph.nodes]
    assert "BatchNormalization" not in ops and "Identity" not in ops
    producers = graph.producers()
    for n in graph.nodes:  # every activation right after a Conv/Gemm was fused into it
        if n.op in ("Relu", "Clip"):
            assert producers[n.inputs[0]].op not in ("Conv", "Gemm"), n.name
    rep = validate(str(path), "c", samples=3)
    assert rep["passed"], rep
    out = rep["outputs"][0]
    assert out["compared_with"] == "onnxruntime"
    assert out["max_abs_err"] <= 1e-4 * out["scale"]
    assert out["top1_agreement"] == 1.0
    assert 0 < rep["memory"]["arena_bytes"] and rep["macs"] > 0
