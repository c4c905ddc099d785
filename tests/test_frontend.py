"""Bad input: every case gives one clear `error:` line, exit code 2, and no output folder."""
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h

from convc.compiler.cli import main
from models import const, elementwise_chain, make, vi


def run_cli(args, capsys):
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_clean_error(rc, err, out_dir, *needles):
    assert rc == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, (n, err)
    assert not os.path.exists(out_dir)


def test_truncated_file(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    data = elementwise_chain().SerializeToString()
    p.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "m.onnx")


def test_not_onnx(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    p.write_text("this is not a model\n" * 10)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "not")


def test_missing_file(tmp_path, capsys):
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(tmp_path / "nope.onnx"), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "no such file")


def test_unsupported_ops_listed_at_once(tmp_path, capsys):
    m = make([h.make_node("Relu", ["x"], ["a"], name="r"),
              h.make_node("NonMaxSuppression", ["a"], ["b"], name="nms_1"),
              h.make_node("TopK", ["b", "k"], ["y", "i"], name="topk_2")],
             [vi("x", [1, 4])], [vi("y", [1, 2])], [const("k", np.array([2], np.int64))])
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "2 unsupported node(s)", "'nms_1' (NonMaxSuppression)", "'topk_2' (TopK)")


def test_dynamic_shape_needs_input_shape(tmp_path, capsys):
    m = make([h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", ["batch", 3])], [vi("y", ["batch", 3])])
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "input 'x' dimension 0 is dynamic", "--input-shape x=N,3")
    rc, stdout, err = run_cli(["compile", str(p), "-o", str(out), "--input-shape", "x=2,3"], capsys)
    assert rc == 0, err
    assert (out / "model.c").exists()


def test_bad_input_shape_option(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    onnx.save(elementwise_chain(), p)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out), "--input-shape", "nosuch=1,2"], capsys)
    assert_clean_error(rc, err, out, "unknown input")
    rc, _, err = run_cli(["compile", str(p), "-o", str(out), "--input-shape", "x=1,a"], capsys)
    assert_clean_error(rc, err, out, "NAME=D0,D1")


def _external_model(tmp_path, location):
    w = onnx.numpy_helper.from_array(np.ones((3, 1, 1), np.float32), "b")
    w.data_location = TP.EXTERNAL
    w.ClearField("raw_data")
    for k, v in (("location", location), ("offset", "0"), ("length", "12")):
        e = w.external_data.add()
        e.key, e.value = k, v
    m = make([h.make_node("Add", ["x", "b"], ["y"], name="add")], [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])], [w])
    d = tmp_path / "model"
    d.mkdir()
    p = d / "m.onnx"
    p.write_bytes(m.SerializeToString())
    return p


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_escaping_folder_refused(tmp_path, capsys, location):
    (tmp_path / "secret.bin").write_bytes(np.ones(3, np.float32).tobytes())
    p = _external_model(tmp_path, location)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "leaves the model's folder")


def test_external_data_symlink_refused(tmp_path, capsys):
    (tmp_path / "secret.bin").write_bytes(np.ones(3, np.float32).tobytes())
    p = _external_model(tmp_path, "w.bin")
    os.symlink(tmp_path / "secret.bin", p.parent / "w.bin")
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "symlink")


def test_external_data_inside_folder_works(tmp_path, capsys):
    p = _external_model(tmp_path, "w.bin")
    (p.parent / "w.bin").write_bytes(np.full(3, 2.0, np.float32).tobytes())
    out = tmp_path / "out"
    rc, stdout, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert rc == 0, err
    assert "2.0f" in (out / "model_weights.c").read_text()


def test_absurd_tensor_size_refused(tmp_path, capsys):
    t = TP()
    t.name, t.data_type = "b", TP.FLOAT
    t.dims.extend([1 << 20, 1 << 20])
    t.raw_data = b"\0" * 16
    m = make([h.make_node("Add", ["x", "b"], ["y"], name="add")], [vi("x", [1, 1])], [vi("y", [1, 1])], [t])
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "refusing tensors over")


def test_old_opset_refused(tmp_path, capsys):
    m = make([h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 3])], [vi("y", [1, 3])], opset=5)
    p = tmp_path / "m.onnx"
    onnx.save(m, p)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "opset 5")


def test_unknown_target_lists_targets(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    onnx.save(elementwise_chain(), p)
    out = tmp_path / "out"
    rc, _, err = run_cli(["compile", str(p), "--target", "pdp11", "-o", str(out)], capsys)
    assert_clean_error(rc, err, out, "unknown target 'pdp11'", "available targets: c")


def test_missing_compiler(tmp_path):
    """validate with no C compiler on PATH: names the Debian package, exit 2."""
    p = tmp_path / "m.onnx"
    onnx.save(elementwise_chain(), p)
    env = dict(os.environ, PATH=str(tmp_path / "empty"), CC="")
    r = subprocess.run([sys.executable, "-m", "convc.compiler.cli", "validate", str(p)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and "gcc" in r.stderr and "Traceback" not in r.stderr


def test_wrong_data_file(tmp_path, capsys):
    p = tmp_path / "m.onnx"
    onnx.save(elementwise_chain(), p)
    d = tmp_path / "d.npz"
    np.savez(d, x=np.zeros((4, 3, 5, 5), np.float32))
    rc, _, err = run_cli(["validate", str(p), "--data", str(d)], capsys)
    assert rc == 2 and "array 'x' has shape [4, 3, 5, 5]; expected [N, 3, 4, 4]" in err
    np.savez(d, y=np.zeros((4, 3, 4, 4), np.float32))
    rc, _, err = run_cli(["validate", str(p), "--data", str(d)], capsys)
    assert rc == 2 and "no array named 'x'" in err
