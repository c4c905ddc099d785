"""`convc tune` (MetaSchedule, x86): the tuning database is written beside the model, the next
compile/validate of the same model for x86 builds with it (and says so), the tuned build still
matches ONNX Runtime, and a database for another target or another graph is ignored with a note.
One real tuning run of digits_mlp with a 4-trial budget (about 25 s on 2 cores)."""
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from convc.compiler.cli import main
from convc.runtime.harness import validate

ROOT = Path(__file__).resolve().parent.parent
MLP = ROOT / "examples" / "digits_mlp" / "digits_mlp.onnx"
MLP_DATA = ROOT / "examples" / "digits_mlp" / "digits_mlp_test.npz"
TRIALS = 4


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    d = tmp_path_factory.mktemp("tune")
    model = d / "mlp.onnx"
    shutil.copy(MLP, model)
    assert main(["tune", str(model), "--target", "x86", "--trials", str(TRIALS)]) == 0
    return model, d / "mlp.convc-tune"


def test_tune_writes_database_beside_model(tuned):
    model, db = tuned
    meta = json.loads((db / "tune.json").read_text())
    assert meta["target"] == "x86" and meta["tvm_target"]["num-cores"] == 1
    assert 0 < meta["trials_measured"] <= TRIALS
    records = (db / "database_tuning_record.json").read_text().splitlines()
    assert len(records) >= 1  # at least one kernel has a measured schedule
    assert meta["latency_us"]["tuned"] > 0 and meta["latency_us"]["untuned"] > 0
    assert not list(db.parent.glob(".mlp.convc-tune.tmp-*"))  # written whole


def test_compile_and_validate_use_the_database(tuned, tmp_path, capsys):
    model, db = tuned
    capsys.readouterr()
    assert main(["compile", str(model), "--target", "x86", "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert f"using tuning database {db}" in out
    assert json.loads((tmp_path / "b" / "convc.json").read_text())["tuning"].startswith("using tuning database")
    rep = validate(str(model), "x86", data=str(MLP_DATA))
    assert rep["passed"] and rep["tuning"].startswith("using tuning database")
    assert rep["outputs"][0]["max_abs_err"] <= 1e-4 * rep["outputs"][0]["scale"]


def test_database_for_another_target_or_graph_is_ignored(tuned, tmp_path, capsys):
    model, db = tuned
    # another graph: same structure, other weights, with the tuned model's database beside it
    other = tmp_path / "mlp.onnx"
    m = onnx.load(str(model))
    w = m.graph.initializer[0]
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * np.float32(1.5), w.name))
    onnx.save(m, str(other))
    shutil.copytree(db, tmp_path / "mlp.convc-tune")
    capsys.readouterr()
    assert main(["compile", str(other), "--target", "x86", "-o", str(tmp_path / "b1")]) == 0
    assert "ignored tuning database" in capsys.readouterr().out and "another graph" in \
        json.loads((tmp_path / "b1" / "convc.json").read_text())["tuning_note"]
    # the same through --tuning DB_DIR (a database kept anywhere)
    assert main(["compile", str(other), "--target", "x86", "--tuning", str(db), "-o", str(tmp_path / "b3")]) == 0
    assert f"ignored tuning database {db}: tuned for another graph" in capsys.readouterr().out
    # another target recorded in the database
    meta = json.loads((db / "tune.json").read_text())
    shutil.copy(model, tmp_path / "m2.onnx")
    shutil.copytree(db, tmp_path / "m2.convc-tune")
    (tmp_path / "m2.convc-tune" / "tune.json").write_text(json.dumps({**meta, "target": "arm"}))
    assert main(["compile", str(tmp_path / "m2.onnx"), "--target", "x86", "-o", str(tmp_path / "b2")]) == 0
    assert "ignored tuning database" in capsys.readouterr().out
    assert "tuned for target 'arm'" in json.loads((tmp_path / "b2" / "convc.json").read_text())["tuning_note"]


@pytest.mark.parametrize("target,says", [("armv7", "tunes the x86 target only"), ("arm", "timed on the board"),
                                         ("c", "'c' is a c target"), ("cortex-m4", "TVM CPU targets"),
                                         ("nosuch", "nosuch")])
def test_tune_refuses_other_targets(target, says, capsys, tmp_path):
    assert main(["tune", str(MLP), "--target", target, "--trials", "2", "-o", str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and says in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "db").exists()


def test_tune_refuses_zero_trials(capsys, tmp_path):
    assert main(["tune", str(MLP), "--trials", "0", "-o", str(tmp_path / "db")]) == 2
    assert "--trials 0" in capsys.readouterr().err


def test_tuning_option_checked(tuned, capsys, tmp_path):
    model, db = tuned
    assert main(["compile", str(model), "--target", "x86", "--tuning", str(tmp_path), "-o", str(tmp_path / "b")]) == 2
    assert "not a `convc tune` database" in capsys.readouterr().err
    assert main(["compile", str(model), "--target", "c", "--tuning", str(db), "-o", str(tmp_path / "b")]) == 2
    assert "--tuning applies to the TVM targets" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
