"""ARM Linux deployment of TVM builds (runtime/tvm_deploy.py), really executed under QEMU user mode.

Relax modules are built here directly with relax.BlockBuilder, compiled by TVM for the targets'
own TVM target dicts, cross-linked with the targets' cross compilers, bundled with the board's
TVM runtime (aarch64: PyPI's aarch64 wheels; armv7: cross-built from the wheels' sources) and run
by the cross-built deploy program under qemu-aarch64 / qemu-arm, compared with NumPy.
The first run on a machine fills the runtime cache (~/.cache/convc/tvm-runtime): about 90 s of CPU
time for armv7 (cross-built), seconds for aarch64 (PyPI wheels).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from convc.compiler.errors import ToolchainError
from convc.runtime import tvm_deploy
from convc.runtime.artifacts import load_artifact
from convc.runtime.tvm_deploy import (BOARDS, DeployRunError, board_for, run_deploy_bundle, run_deploy_bundle_many,
                                      write_deploy_bundle)
from convc.targets import get_target

pytestmark = pytest.mark.toolchain

ARCHES = ["arm", "armv7"]
RNG = np.random.default_rng(7)
W_CONV = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
B_CONV = RNG.standard_normal(4).astype(np.float32)
W_FC = (RNG.standard_normal((10, 4 * 6 * 6)) * 0.1).astype(np.float32)
SCALE = RNG.standard_normal((1, 5)).astype(np.float32)


def _relax_model():
    """main(x: f32[1,3,8,8], v: f32[1,5]) -> (dense(relu(conv2d(x)+b)): f32[1,10], v*scale: f32[1,5])"""
    from tvm import relax

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, 3, 8, 8), "float32"))
    v = relax.Var("v", relax.TensorType((1, 5), "float32"))
    with bb.function("main", [x, v]):
        with bb.dataflow():
            c = bb.emit(relax.op.nn.conv2d(x, relax.const(W_CONV)))
            c = bb.emit(relax.op.add(c, relax.const(B_CONV.reshape(1, 4, 1, 1))))
            r = bb.emit(relax.op.nn.relu(c))
            f = bb.emit(relax.op.reshape(r, (1, 144)))
            y = bb.emit(relax.op.matmul(f, relax.op.permute_dims(relax.const(W_FC))))
            z = bb.emit(relax.op.multiply(v, relax.const(SCALE)))
            out = bb.emit_output(relax.Tuple([y, z]))
        bb.emit_func_output(out)
    return bb.get()


def _numpy_model(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    win = np.lib.stride_tricks.sliding_window_view(x[0].astype(np.float64), (3, 3), axis=(1, 2))  # c,6,6,3,3
    conv = np.einsum("chwij,ocij->ohw", win, W_CONV) + B_CONV[:, None, None]
    y = np.maximum(conv, 0).reshape(1, 144) @ W_FC.T.astype(np.float64)
    return y, v.astype(np.float64) * SCALE


META = {"name": "conv_relu_dense", "library": "model.so",
        "inputs": [{"name": "x", "shape": [1, 3, 8, 8], "dtype": "float32"},
                   {"name": "v", "shape": [1, 5], "dtype": "float32"}],
        "outputs": [{"name": "y", "shape": [1, 10], "dtype": "float32"},
                    {"name": "z", "shape": [1, 5], "dtype": "float32"}]}


@pytest.fixture(scope="module", params=ARCHES)
def bundle(request, tmp_path_factory):
    import tvm

    target = get_target(request.param)
    out = tmp_path_factory.mktemp(f"bundle-{target.name}")
    ex = tvm.compile(_relax_model(), target=tvm.target.Target(target.tvm_target))
    ex.export_library(str(out / "model.so"), fcompile=tvm.support.cc.cross_compiler(target.cxx))
    meta = write_deploy_bundle(out, target, {**META, "target": target.name})
    return target, out, meta


def _samples(n: int) -> list[dict[str, np.ndarray]]:
    return [{"x": RNG.standard_normal((1, 3, 8, 8)).astype(np.float32),
             "v": RNG.standard_normal((1, 5)).astype(np.float32)} for _ in range(n)]


def _elf_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "little")


def test_bundle_is_complete_and_for_the_board(bundle):
    target, out, meta = bundle
    board = board_for(target)
    for f in ["model.so", "deploy", "deploy.cc", "Makefile", "README.txt", "convc.json", "lib/libtvm_runtime.so",
              "lib/libtvm_ffi.so", "include/tvm/ffi/function.h", "include/dlpack/dlpack.h"]:
        assert (out / f).is_file(), f
    for f in ["model.so", "deploy", "lib/libtvm_runtime.so", "lib/libtvm_ffi.so"]:
        assert _elf_machine(out / f) == board.elf_machine, f
    assert json.loads((out / "convc.json").read_text()) == meta
    assert meta["deploy"]["qemu"] == board.qemu and meta["inputs"] == META["inputs"]
    readme = (out / "README.txt").read_text()
    assert "LD_LIBRARY_PATH=lib ./deploy model.so in0.bin in1.bin out0.bin out1.bin" in readme
    assert "x: float32[1,3,8,8], 768 bytes per sample" in readme
    needs = meta["deploy"]["board_needs"]  # what the cross toolchain's libc/libstdc++ (Debian 12) imply
    assert (2, 17) <= tuple(map(int, needs["glibc"].split("."))) <= (2, 36)
    assert needs["glibcxx"].startswith("3.4.") and f"glibc >= {needs['glibc']}" in readme


def test_runs_under_qemu_and_matches_numpy(bundle):
    target, out, _ = bundle
    samples = _samples(6)
    got, report = run_deploy_bundle_many(out, samples)
    assert report.startswith("deploy: 6 sample(s)")
    assert len(got) == 6
    for s, g in zip(samples, got):
        y, z = _numpy_model(s["x"], s["v"])
        assert g["y"].shape == (1, 10) and g["y"].dtype == np.float32
        assert np.max(np.abs(g["y"] - y)) <= 1e-4 * np.max(np.abs(y))
        np.testing.assert_allclose(g["z"], z, rtol=1e-6)
    one = run_deploy_bundle(out, samples[0])
    np.testing.assert_array_equal(one["y"], got[0]["y"])


def test_artifact_runner_reports_qemu(bundle):
    target, out, _ = bundle
    art = load_artifact(out)
    board = board_for(target)
    assert art.ran_on == f"{board.qemu} ({board.triple})"
    s = _samples(2)
    res = art.run_many(s)
    np.testing.assert_allclose(res[1]["z"], s[1]["v"] * SCALE, rtol=1e-6)
    assert "per run" in art.report


def test_makefile_rebuilds_the_deploy_program(bundle, tmp_path):
    """The Makefile a board user gets really builds deploy (cross, here), and that build runs."""
    target, out, _ = bundle
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "deploy").unlink()
    r = subprocess.run(["make"], cwd=copy, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert _elf_machine(copy / "deploy") == board_for(target).elf_machine
    s = _samples(1)[0]
    np.testing.assert_allclose(run_deploy_bundle(copy, s)["z"], s["v"] * SCALE, rtol=1e-6)


def test_deploy_program_rejects_bad_input_files(bundle, tmp_path):
    target, out, _ = bundle
    board = board_for(target)
    (tmp_path / "in0.bin").write_bytes(b"\0" * 700)  # not a multiple of 768 bytes
    (tmp_path / "in1.bin").write_bytes(b"\0" * 20)
    r = subprocess.run([board.qemu, "-L", board.sysroot, str(out / "deploy"), str(out / "model.so"),
                        "in0.bin", "in1.bin", "out0.bin", "out1.bin"], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, LD_LIBRARY_PATH=str(out / "lib")), timeout=120)
    assert r.returncode == 1
    assert "deploy: error: input 'x' (in0.bin): 700 bytes is not a multiple of 768 bytes per sample" in r.stderr


def test_a_broken_model_library_is_an_error_not_a_result(bundle, tmp_path):
    target, out, _ = bundle
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "model.so").write_text("not a shared library\n")
    with pytest.raises(DeployRunError, match=r"deploy program failed \(exit status 1\): deploy: error: .*model\.so"):
        run_deploy_bundle(broken, _samples(1)[0])


def test_a_crashing_program_is_an_error_with_the_signal(bundle, tmp_path):
    target, out, _ = bundle
    board = board_for(target)
    crash = tmp_path / "crash"
    shutil.copytree(out, crash)
    src = crash / "crash.c"
    src.write_text("#include <signal.h>\nint main(void) { raise(SIGSEGV); return 0; }\n")
    subprocess.run([board.cxx.replace("g++", "gcc"), "-o", str(crash / "deploy"), str(src)], check=True)
    with pytest.raises(DeployRunError, match="killed by signal 11"):
        run_deploy_bundle(crash, _samples(1)[0])


def _path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH with links to everything the tests need except the `missing` executables."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ["aarch64-linux-gnu-g++", "arm-linux-gnueabihf-g++", "qemu-aarch64", "qemu-arm", "g++", "gcc", "cc"]:
        if tool not in missing and shutil.which(tool):
            os.symlink(shutil.which(tool), bin_dir / tool)
    return str(bin_dir)


@pytest.mark.parametrize("name", ARCHES)
def test_missing_cross_compiler_names_the_debian_package(name, tmp_path, monkeypatch):
    target = get_target(name)
    board = board_for(target)
    (tmp_path / "model.so").write_bytes(b"")
    monkeypatch.setenv("PATH", _path_without(tmp_path, board.cxx))
    with pytest.raises(ToolchainError, match=re.escape(f"needs {board.cxx}: install Debian package g++-{board.triple}")):
        write_deploy_bundle(tmp_path, target, {**META, "target": name})


def test_missing_qemu_names_the_debian_package(bundle, tmp_path, monkeypatch):
    target, out, _ = bundle
    board = board_for(target)
    monkeypatch.setenv("PATH", _path_without(tmp_path, board.qemu))
    with pytest.raises(ToolchainError, match=re.escape(f"needs {board.qemu}: install Debian package qemu-user")):
        run_deploy_bundle(out, _samples(1)[0])


@pytest.mark.parametrize("name", ARCHES)
def test_cli_missing_toolchain_is_exit_2_with_the_package(name, tmp_path, monkeypatch, capsys):
    from convc.compiler.cli import main

    board = board_for(get_target(name))
    monkeypatch.setenv("PATH", _path_without(tmp_path, board.qemu))
    model = Path(__file__).resolve().parent.parent / "examples" / "digits" / "digits.onnx"
    assert main(["validate", str(model), "--target", name, "--samples", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "qemu-user" in err[0] and board.qemu in err[0]


def test_armv7_runtime_is_built_from_the_wheel_sources():
    """No armv7 wheel exists: the cached runtime says it was cross-built (and how long it took)."""
    lib = tvm_deploy.board_runtime(BOARDS["arm-linux-gnueabihf"])
    note = (lib / "SOURCE.txt").read_text()
    assert note.startswith("cross-built with arm-linux-gnueabihf-g++ from the sources of apache-tvm==")
    assert _elf_machine(lib / "libtvm_runtime.so") == 40


# ---- real networks through convc's own lowering (compiler/codegen/relax.py), end to end ----

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits" / "digits.onnx"
DIGITS_DATA = ROOT / "examples" / "digits" / "digits_test.npz"


@pytest.mark.parametrize("name", ARCHES)
def test_cli_validate_digits_on_the_board(name, capsys):
    """The headline command: the trained digits ConvNet, all 360 test samples, run under QEMU."""
    from convc.compiler.cli import main

    assert main(["validate", str(DIGITS), "--target", name, "--data", str(DIGITS_DATA), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    board = board_for(get_target(name))
    assert rep["passed"] is True and rep["ran_on"] == f"{board.qemu} ({board.triple})" and rep["samples"] == 360
    out = rep["outputs"][0]
    assert out["compared_with"] == "onnxruntime" and out["max_abs_err"] <= 1e-4 * out["scale"]
    assert out["top1_agreement"] == 1.0
    acc = rep["accuracy"]
    assert acc["float"] > 0.95 and acc["target"] == acc["float"]


@pytest.mark.parametrize("name", ARCHES)
@pytest.mark.parametrize("network", ["lenet", "resnet_block", "mobilenetv2", "squeezenet", "dscnn"])
def test_network_validates_on_the_board(network, name, tmp_path):
    import onnx
    from networks import ALL

    from convc.runtime.harness import validate

    path = tmp_path / f"{network}.onnx"
    onnx.save(ALL[network](), path)
    rep = validate(str(path), name, samples=2)
    assert rep["passed"], rep
    assert rep["ran_on"] == "{0.qemu} ({0.triple})".format(board_for(get_target(name)))
    out = rep["outputs"][0]
    assert out["compared_with"] == "onnxruntime" and out["max_abs_err"] <= 1e-4 * out["scale"]
    assert out["top1_agreement"] == 1.0


def test_runtime_compat_headers_byte_layout_and_base64(tmp_path):
    """The support headers convc supplies for the armv7 runtime build write the byte layout TVM's
    serializer uses (little-endian scalars, uint64 counts) and standard base64, and read them back."""
    import base64
    import struct

    src = tmp_path / "compat.cc"
    src.write_text(r'''
#include <tvm/support/serializer.h>
#include "support/bytes_io.h"
#include "support/base64.h"
#include "support/utils.h"
#include <cstdio>
using namespace tvm::support;
int main() {
  std::string buf;
  BytesOutStream out(&buf);
  out.Write<uint64_t>(7);
  out.Write(std::string("ab"));
  out.Write(std::vector<int64_t>{1, -2});
  out.Write(std::vector<std::string>{"xyz"});
  out.Write(DLDataType{2, 32, 1});
  out.Write(DLDevice{kDLCPU, 3});
  out.Write(tvm::ffi::String("s"));
  BytesInStream in(buf);
  uint64_t a; std::string b; std::vector<int64_t> c; std::vector<std::string> d; DLDataType e; DLDevice f;
  tvm::ffi::String g;
  bool ok = in.Read(&a) && in.Read(&b) && in.Read(&c) && in.Read(&d) && in.Read(&e) && in.Read(&f) && in.Read(&g);
  ok = ok && a == 7 && b == "ab" && c.size() == 2 && c[1] == -2 && d.size() == 1 && d[0] == "xyz" && e.code == 2 &&
       e.bits == 32 && e.lanes == 1 && f.device_type == kDLCPU && f.device_id == 3 && g == "s" && !in.Read(&a);
  ok = ok && IsNumber("0123") && !IsNumber("") && !IsNumber("1a");
  std::string text;
  BytesOutStream tout(&text);
  std::string raw;
  for (int k = 0; k < 256; ++k) raw.push_back(static_cast<char>(k));
  for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(256)}) {
    text.clear();
    Base64OutStream enc(&tout);
    enc.Write(raw.data(), n);
    enc.Finish();
    if (n == 256) std::fwrite(text.data(), 1, text.size(), stdout);
    BytesInStream tin(text);
    Base64InStream dec(&tin);
    dec.InitPosition();
    std::string back(n + 4, '\0');
    ok = ok && dec.Read(&back[0], n + 4) == n && back.compare(0, n, raw, 0, n) == 0;
  }
  std::fwrite("\n", 1, 1, stdout);
  std::fwrite(buf.data(), 1, buf.size(), stdout);
  return ok ? 0 : 1;
}
''')
    compat = tvm_deploy.COMPAT_DIR
    exe = tmp_path / "compat"
    subprocess.run(["g++", "-std=c++17", "-O1", "-I", str(compat / "include"), "-I", str(compat / "src"),
                    "-I", str(tvm_deploy.ffi_include_dir()), "-o", str(exe), str(src)], check=True)
    r = subprocess.run([str(exe)], capture_output=True)
    assert r.returncode == 0, r.stderr
    text, layout = r.stdout.split(b"\n", 1)
    assert text == base64.b64encode(bytes(range(256)))
    expected = (struct.pack("<Q", 7) + struct.pack("<Q", 2) + b"ab" + struct.pack("<Qqq", 2, 1, -2)
                + struct.pack("<QQ", 1, 3) + b"xyz" + struct.pack("<BBH", 2, 32, 1) + struct.pack("<ii", 1, 3)
                + struct.pack("<Q", 1) + b"s")
    assert layout == expected


def test_runtime_fetch_failure_is_a_toolchain_error(tmp_path, monkeypatch):
    """No reachable package index: a clear error naming the wheels, and nothing half-written in the cache."""
    monkeypatch.setenv("CONVC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(ToolchainError, match=r"cannot fetch the aarch64 TVM runtime: pip could not download "
                                             r"apache-tvm==\S+ and apache-tvm-ffi==\S+ for manylinux_2_28_aarch64"):
        tvm_deploy.board_runtime(BOARDS["aarch64-linux-gnu"])
    left = [p.name for p in (tmp_path / "cache" / "tvm-runtime" / "aarch64").iterdir() if not p.name.endswith(".lock")]
    assert left == []


def test_a_hung_run_is_a_timeout_error(bundle):
    target, out, _ = bundle
    with pytest.raises(DeployRunError, match=r"did not finish within 0.001 s"):
        run_deploy_bundle(out, _samples(1)[0], timeout_s=0.001)


def test_cli_compile_then_run_on_the_board(tmp_path, capsys):
    """`convc compile --target arm` then `convc run`: the board folder's outputs equal ONNX Runtime's."""
    import onnxruntime as ort

    from convc.compiler.cli import main

    data = np.load(DIGITS_DATA)
    x = data["input"][:5]
    np.savez(tmp_path / "x.npz", input=x)
    build = tmp_path / "digits-arm"
    assert main(["compile", str(DIGITS), "--target", "arm", "-o", str(build)]) == 0
    assert (build / "deploy").is_file() and (build / "lib" / "libtvm_runtime.so").is_file()
    assert main(["run", str(build), "--input", str(tmp_path / "x.npz"), "-o", str(tmp_path / "y.npz")]) == 0
    assert "qemu-aarch64 (aarch64-linux-gnu)" in capsys.readouterr().out
    got = np.load(tmp_path / "y.npz")["logits"]
    sess = ort.InferenceSession(str(DIGITS), providers=["CPUExecutionProvider"])
    want = np.stack([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(5)])
    assert got.shape == want.shape and np.max(np.abs(got - want)) <= 1e-4 * np.max(np.abs(want))
