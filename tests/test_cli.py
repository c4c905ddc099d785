"""The CLI end to end on the bundled example: validate (text and --json), compile, run, inspect, targets."""
import json
from pathlib import Path

import numpy as np

from convc.compiler.cli import main

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "digits_mlp" / "digits_mlp.onnx"
DATA = ROOT / "examples" / "digits_mlp" / "digits_mlp_test.npz"


def test_validate_example_json_same_accuracy(capsys):
    assert main(["validate", str(MODEL), "--target", "c", "--data", str(DATA), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["passed"] is True and rep["target"] == "c" and rep["ran_on"].startswith("host")
    assert rep["samples"] == 360
    acc = rep["accuracy"]
    assert acc["float"] > 0.9 and acc["float"] == acc["reference"] == acc["target"]
    out = rep["outputs"][0]
    assert out["name"] == "logits" and out["compared_with"] == "onnxruntime"
    assert out["max_abs_err"] <= 1e-4 * out["scale"] and out["top1_agreement"] == 1.0
    assert out["cosine"] > 0.999999 and out["sqnr_db"] > 80
    assert rep["memory"]["arena_bytes"] > 0 and rep["macs"] == 64 * 32 + 32 * 10


def test_validate_fails_with_exit_1_when_outputs_differ(tmp_path, capsys, monkeypatch):
    """A target that computes something else is reported as failed (exit 1), not passed."""
    from convc.runtime import artifacts

    real = artifacts.HostCArtifact.run
    monkeypatch.setattr(artifacts.HostCArtifact, "run", lambda self, x: {k: v + 0.5 for k, v in real(self, x).items()})
    assert main(["validate", str(MODEL), "--samples", "2"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_compile_then_run(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["compile", str(MODEL), "--target", "c", "-o", str(out)]) == 0
    assert {"model.c", "model.h", "model_weights.c", "model_weights.h", "main.c", "Makefile", "convc.json"} <= {
        p.name for p in out.iterdir()}
    x = np.load(DATA)["input"][:5]
    np.savez(tmp_path / "x.npz", input=x)
    assert main(["run", str(out), "--input", str(tmp_path / "x.npz"), "-o", str(tmp_path / "y.npz")]) == 0
    y = np.load(tmp_path / "y.npz")["logits"]
    assert y.shape == (5, 1, 10)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    want = np.stack([sess.run(None, {"input": s[None]})[0] for s in x])
    np.testing.assert_allclose(y, want, atol=1e-5)


def test_inspect_json(capsys):
    assert main(["inspect", str(MODEL), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [layer["op"] for layer in info["layers"]] == ["Gemm+Relu", "Gemm"]
    assert info["totals"]["params"] == 64 * 32 + 32 + 32 * 10 + 10
    assert info["totals"]["macs"] == 64 * 32 + 32 * 10
    assert 0 < info["totals"]["arena_bytes"] <= info["totals"]["activations_bytes"]


def test_targets(capsys):
    assert main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "c" and rows[0]["toolchain"] == "ok"
