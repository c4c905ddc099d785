"""Generated C: strict warnings, sanitizers, hostile names, determinism, atomic output."""
import os
import re
import subprocess

import numpy as np
import onnx
import pytest

from convc.compiler.codegen.c import generate_c
from convc.compiler.driver import load_and_optimize
from convc.compiler.output import write_dir
from convc.compiler import reference
from convc.runtime.host import HostModel, build_shared, host_cc
from models import elementwise_chain

HOSTILE = ('x */ #include <stdlib.h> /*', 'b"\n#define float int', "t\\\n*/ system(\"rm -rf /\"); /*",
           "u'; --", "y\r\n#error pwned")
HOSTILE_NODES = ("add */ int evil; /*", "relu\n#pragma once", "clip\"\\")


def _save(tmp_path, model, name="m.onnx"):
    p = tmp_path / name
    onnx.save(model, p)
    return p


def test_hostile_names_give_safe_code(tmp_path):
    p = _save(tmp_path, elementwise_chain(HOSTILE, HOSTILE_NODES))
    graph = load_and_optimize(p)
    files = generate_c(graph).files
    for name, text in files.items():
        if not name.endswith((".c", ".h")):
            continue
        assert text.count("/*") == text.count("*/"), name  # no comment closed early by a name
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # what the compiler sees
        for bad in ("#error", "#pragma", "system(", "int evil", "#define float", "<stdlib"):
            assert bad not in code, (name, bad)
        for line in code.splitlines():
            s = line.strip()
            if s.startswith("#"):
                assert re.match(r'#(include [<"][\w.]+[>"]|ifn?def \w+|define \w+( .*)?|endif|if .*|else)$', s), line
    out = write_dir(tmp_path / "c", files)
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32)
    got = HostModel(out).run({HOSTILE[0]: x})
    want = reference.run(graph, {HOSTILE[0]: x})
    np.testing.assert_array_equal(got[HOSTILE[4]], want[HOSTILE[4]])


def test_byte_identical_output(tmp_path):
    p = _save(tmp_path, elementwise_chain())
    a = generate_c(load_and_optimize(p)).files
    b = generate_c(load_and_optimize(p)).files
    assert a == b
    write_dir(tmp_path / "o1", a)
    write_dir(tmp_path / "o2", b)
    for f in a:
        assert (tmp_path / "o1" / f).read_bytes() == (tmp_path / "o2" / f).read_bytes()


def test_sanitizers_clean(tmp_path):
    p = _save(tmp_path, elementwise_chain())
    graph = load_and_optimize(p)
    out = write_dir(tmp_path / "c", generate_c(graph).files)
    exe = tmp_path / "model_test"
    r = subprocess.run([host_cc(), "-O1", "-g", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-o", str(exe),
                        str(out / "main.c"), str(out / "model.c"), str(out / "model_weights.c"), "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 4)).astype(np.float32)
    x.tofile(tmp_path / "in.bin")
    r = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    got = np.fromfile(tmp_path / "out.bin", np.float32).reshape(1, 3, 4, 4)
    np.testing.assert_array_equal(got, reference.run(graph, {"x": x})["y"])


def test_makefile_builds_library_and_test_program(tmp_path):
    p = _save(tmp_path, elementwise_chain())
    out = write_dir(tmp_path / "c", generate_c(load_and_optimize(p)).files)
    r = subprocess.run(["make", "-C", str(out), "CFLAGS=-O2 -Werror"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "libmodel.a").exists() and os.access(out / "model_test", os.X_OK)


def test_header_contract(tmp_path):
    p = _save(tmp_path, elementwise_chain())
    cm = generate_c(load_and_optimize(p))
    h = cm.files["model.h"]
    assert f"#define MODEL_ARENA_SIZE {cm.plan.arena_size}" in h
    assert "#define MODEL_INPUT0_SIZE 48" in h and "#define MODEL_OUTPUT0_SIZE 48" in h
    assert "int model_run(const float *in_x, float *out_y, void *arena);" in h
    c = cm.files["model.c"] + cm.files["model_weights.c"]
    assert "malloc" not in c and "printf" not in c and "stdio" not in c
    assert "CONVC_WEIGHTS_SECTION CONVC_ALIGNED const float" in cm.files["model_weights.c"]


def test_output_dir_whole_or_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old build")
    with pytest.raises(ValueError):
        write_dir(out, {"a.c": "int a;", "../escape.c": "x"})
    assert (out / "keep.txt").read_text() == "old build"
    assert sorted(os.listdir(tmp_path)) == ["out"]
    write_dir(out, {"a.c": "int a;"})
    assert sorted(os.listdir(out)) == ["a.c"]
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_failed_compile_keeps_previous_build(tmp_path):
    from convc.compiler.cli import main

    p = _save(tmp_path, elementwise_chain())
    out = tmp_path / "build"
    assert main(["compile", str(p), "-o", str(out)]) == 0
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    assert main(["compile", str(tmp_path / "bad.onnx"), "-o", str(out)]) == 2
    assert {f: (out / f).read_bytes() for f in os.listdir(out)} == before


def test_output_folder_has_ordinary_permissions(tmp_path):
    """The staged folder (mkdtemp, 0700) becomes an ordinary folder a user can copy to a board."""
    import os
    import stat

    from convc.compiler.output import write_dir

    umask = os.umask(0o022)
    try:
        out = write_dir(tmp_path / "o", {"a.txt": "x"})
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
