"""Cortex-M targets, really built with arm-none-eabi-gcc and really run on QEMU boards.

Float networks are validated on every core against ONNX Runtime and the oracle; the firmware's
reports (flash, RAM, measured stack, instructions per inference from -icount) must be present,
positive and deterministic; a fault, a hang and a model that does not fit are errors, not passes.
"""
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import networks
from convc.compiler.cli import main
from convc.targets import TARGETS

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits" / "digits.onnx"
DIGITS_DATA = ROOT / "examples" / "digits" / "digits_test.npz"
CORES = ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
BOARDS = {"cortex-m3": "mps2-an385", "cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500",
          "cortex-m33": "mps2-an505", "cortex-m55": "mps3-an547"}

# scripts/setup.sh installs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm: without
# them these tests fail with convc's "install Debian package(s) ..." error, they are never skipped
pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("cm_models")
    paths = {"digits": DIGITS}
    for name, fn in (("lenet", networks.lenet), ("dscnn", networks.dscnn_net),
                     ("mobilenetv2", networks.mobilenetv2_net)):
        paths[name] = d / f"{name}.onnx"
        onnx.save(fn(), paths[name])
    data = np.load(DIGITS_DATA)
    paths["digits_data"] = d / "digits40.npz"
    np.savez(paths["digits_data"], input=data["input"][:40], labels=data["labels"][:40])
    return paths


def _validate(capsys, *args):
    rc = main(["validate", *map(str, args), "--json"])
    out = capsys.readouterr().out
    return rc, (json.loads(out) if out.strip() else None)


def test_targets_are_data():
    for core, board in BOARDS.items():
        t = TARGETS[core]
        assert t.backend == "cortex-m" and t.runner == "qemu-system" and t.board == board
        assert f"-mcpu={core}" in t.arch_flags and "-mthumb" in t.arch_flags
        assert t.hard_float == (core != "cortex-m3")
        assert "gcc-arm-none-eabi" in t.packages and "qemu-system-arm" in t.packages


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("net", ["digits", "lenet", "dscnn", "mobilenetv2"])
def test_float_networks_validate_in_qemu(core, net, models, capsys):
    args = [models[net], "--target", core]
    args += ["--data", models["digits_data"]] if net == "digits" else ["--samples", "2"]
    rc, rep = _validate(capsys, *args)
    assert rc == 0 and rep["passed"] is True, rep
    assert rep["ran_on"] == f"qemu-system-arm {BOARDS[core]}"
    out = rep["outputs"][0]
    assert out["compared_with"] == "onnxruntime" and out["max_abs_err"] <= out["tolerance"]
    assert out["vs_reference"]["max_abs_err"] <= out["tolerance"]
    mem = rep["memory"]
    assert mem["flash_bytes"] > mem["weights_bytes"] > 0
    assert 0 < mem["stack_bytes"] < mem["stack_reserved_bytes"]
    assert mem["ram_bytes"] > mem["arena_bytes"] + mem["stack_bytes"]
    assert rep["macs"] > 0 and rep["instructions"] >= rep["instructions_min"] > rep["macs"]
    assert rep["instructions_per_mac"] == pytest.approx(rep["instructions"] / rep["macs"])
    if net == "digits":
        assert rep["samples"] == 40 and rep["accuracy"]["target"] == rep["accuracy"]["reference"] >= 0.9


def test_soft_float_costs_more_instructions_than_fpu(models, capsys):
    """The counts mean something: the FPU-less M3 needs several times the M4F's instructions."""
    counts = {}
    for core in ("cortex-m3", "cortex-m4"):
        rc, rep = _validate(capsys, models["lenet"], "--target", core, "--samples", "1")
        assert rc == 0
        counts[core] = rep["instructions"]
    assert counts["cortex-m3"] > 3 * counts["cortex-m4"]


def test_compile_writes_lib_and_built_firmware_and_run_is_deterministic(models, tmp_path, capsys):
    out = tmp_path / "m4"
    assert main(["compile", str(DIGITS), "--target", "cortex-m4", "-o", str(out)]) == 0
    assert {p.name for p in (out / "lib").iterdir()} == {
        "model.c", "model.h", "model_weights.c", "model_weights.h", "convc_platform.h"}
    fw = {p.name for p in (out / "fw").iterdir()}
    assert {"startup.c", "main.c", "fw.h", "link.ld", "Makefile", "fw.elf", "fw.map", "fw.size", "model.su"} <= fw
    assert not list(out.rglob("*.o"))
    again = tmp_path / "m4-again"  # same model, same options: byte-identical folder, ELF included
    assert main(["compile", str(DIGITS), "--target", "cortex-m4", "-o", str(again)]) == 0
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == {
        p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    meta = json.loads((out / "convc.json").read_text())
    assert meta["target"] == "cortex-m4" and meta["firmware"]["board"] == "mps2-an386"
    assert "-mfloat-abi=hard" in (out / "fw" / "Makefile").read_text()
    assert "CPACR" in (out / "fw" / "startup.c").read_text() or "0xE000ED88" in (out / "fw" / "startup.c").read_text()

    from convc.runtime.qemu_mcu import run_firmware

    data = np.load(DIGITS_DATA)
    samples = [{"input": x} for x in data["input"][:3]]
    a, b = run_firmware(out, samples), run_firmware(out, samples)
    assert a.instructions == b.instructions and all(i > 0 for i in a.instructions)
    assert a.instructions_per_tick == 40.0  # 25 MHz SysTick, 1 ns per instruction
    # `convc run` boots the firmware and gives the same outputs
    np.savez(tmp_path / "x.npz", input=data["input"][:3])
    assert main(["run", str(out), "--input", str(tmp_path / "x.npz"), "-o", str(tmp_path / "y.npz")]) == 0
    ran = capsys.readouterr().out
    assert "qemu-system-arm mps2-an386" in ran and f"instructions per inference: {max(a.instructions)}" in ran
    y = np.load(tmp_path / "y.npz")["logits"]
    np.testing.assert_array_equal(y, np.stack([o["logits"] for o in a.outputs]))
    import onnxruntime as ort

    sess = ort.InferenceSession(str(DIGITS), providers=["CPUExecutionProvider"])
    want = np.stack([sess.run(None, {"input": x[None]})[0] for x in data["input"][:3]])
    np.testing.assert_allclose(y, want, atol=1e-4)
    # the firmware project stands alone: `make run` in fw/ (QEMU reads convc_in.bin from there)
    data["input"][:3].astype("<f4").tofile(out / "fw" / "convc_in.bin")
    r = subprocess.run(["make", "-s", "-C", str(out / "fw"), "run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "convc-fw: done 3" in r.stdout + r.stderr, r.stdout + r.stderr
    np.testing.assert_array_equal(np.fromfile(out / "fw" / "convc_out.bin", "<f4").reshape(y.shape), y)


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m33"])
def test_too_small_stack_is_reported_as_fault(core, capsys):
    rc = main(["validate", str(DIGITS), "--target", core, "--samples", "1", "--stack-size", "64"])
    cap = capsys.readouterr()
    assert rc == 1 and "PASSED" not in cap.out
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: FAULT: firmware on ")
    assert "stack overflow" in err[0] and "--stack-size" in err[0]


@pytest.mark.parametrize("core", CORES)
def test_arena_smaller_than_the_code_needs_faults(core, capsys, monkeypatch):
    """An arena too small for what the kernels write (here: the planner's size halved) runs into
    memory past the end of RAM: an MPU guard on M3/M4/M7, a bus error on M33/M55. FAULT, exit 1."""
    import convc.compiler.codegen.c as cgen

    real = cgen.plan_memory

    def halved(graph):
        plan = real(graph)
        plan.arena_size //= 2
        return plan

    monkeypatch.setattr(cgen, "plan_memory", halved)
    rc = main(["validate", str(DIGITS), "--target", core, "--samples", "1"])
    cap = capsys.readouterr()
    assert rc == 1 and "PASSED" not in cap.out
    err = cap.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: FAULT: firmware on {BOARDS[core]} took a CPU fault: HardFault")
    assert "just past the model arena" in err[0]


def test_hang_is_reported_as_fault(tmp_path):
    from convc.runtime.qemu_mcu import FirmwareFault, run_firmware

    out = tmp_path / "m3"
    assert main(["compile", str(DIGITS), "--target", "cortex-m3", "-o", str(out)]) == 0
    with pytest.raises(FirmwareFault, match="did not finish within"):
        run_firmware(out, [{"input": np.zeros((1, 1, 8, 8), np.float32)}] * 2, timeout_s=0.001)


def _gemm_model(path: Path, k: int, n: int) -> Path:
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, [k, n], rng.standard_normal((k, n)).astype(np.float32).ravel())
    g = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc")], "big",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_weights_beyond_the_itcm_run_from_the_m55_sram_bank(tmp_path, capsys):
    """The an547's ITCM holds 512 KiB: the M55 firmware puts the weights (CONVC_WEIGHTS_SECTION)
    in the board's 2 MiB SRAM, so a 560 KB Gemm still runs."""
    model = _gemm_model(tmp_path / "big.onnx", 1400, 100)
    rc, rep = _validate(capsys, model, "--target", "cortex-m55", "--samples", "2", "-o", tmp_path / "b")
    assert rc == 0 and rep["passed"] is True and rep["memory"]["flash_bytes"] > 560000
    sizes = json.loads((tmp_path / "b" / "convc.json").read_text())["firmware"]["sizes"]
    assert sizes[".convc_weights"] >= 560000 and sizes[".text"] < 512 * 1024


def test_model_that_does_not_fit_is_refused(tmp_path, capsys):
    # weights over the 2 MiB weights bank: refused before building
    model = _gemm_model(tmp_path / "big.onnx", 1400, 400)
    out = tmp_path / "o"
    assert main(["compile", str(model), "--target", "cortex-m55", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit target 'cortex-m55'" in err[0] and "weights need 2240000 bytes" in err[0]
    assert not out.exists()
    # digits: arena 6144 + input/output buffers 296 + this stack leave 64 bytes of the 4 MiB RAM,
    # which the firmware's other .bss (its 512-byte fault stack) does not fit: the linker says so
    stack = 4 * 1024 * 1024 - 6144 - 296 - 64
    assert main(["compile", str(DIGITS), "--target", "cortex-m55", "--stack-size", str(stack), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit target 'cortex-m55'" in err[0] and "RAM overflow" in err[0]
    assert not out.exists()


def test_inspect_with_target_reports_firmware_numbers(capsys):
    assert main(["inspect", str(DIGITS), "--target", "cortex-m7", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    t = info["target"]
    assert t["target"] == "cortex-m7" and t["board"] == "mps2-an500"
    assert t["flash_bytes"] > 0 and t["ram_bytes"] > t["arena_bytes"] + t["stack_bytes"] and t["stack_bytes"] > 0
    assert t["instructions"] > info["totals"]["macs"] > 0
    assert main(["inspect", str(DIGITS), "--target", "c"]) == 2
    assert "builds no firmware" in capsys.readouterr().err
    # the int8 firmware: a quarter of the weights and arena
    assert main(["inspect", str(DIGITS), "--target", "cortex-m7", "--quantize", "int8", "--calib",
                 str(ROOT / "examples" / "digits" / "digits_calib.npz")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("target cortex-m7 (QEMU mps2-an500, int8): flash ")
    m = re.search(r"flash (\d+) bytes, RAM (\d+) bytes \(arena (\d+) ", last)
    assert int(m.group(1)) < t["flash_bytes"] / 2 and int(m.group(3)) == t["arena_bytes"] // 4

# ---------------------------------------------------------------------------------------------
# int8: the same C backend on the boards; bit-exact with the integer oracle
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def calib(models, tmp_path_factory):
    d = tmp_path_factory.mktemp("cm_calib")
    rng = np.random.default_rng(1)
    out = {"digits": ROOT / "examples" / "digits" / "digits_calib.npz"}  # from the train split
    for net in ("lenet", "dscnn", "mobilenetv2"):
        shape = onnx.load(models[net]).graph.input[0].type.tensor_type.shape.dim
        dims = [d.dim_value for d in shape][1:]
        out[net] = d / f"{net}_calib.npz"
        np.savez(out[net], input=rng.standard_normal([16, *dims]).astype(np.float32))
    return out


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("net", ["digits", "lenet", "dscnn", "mobilenetv2"])
def test_int8_networks_bit_exact_in_qemu(core, net, models, calib, capsys):
    args = [models[net], "--target", core, "--quantize", "int8", "--calib", calib[net]]
    args += ["--data", models["digits_data"]] if net == "digits" else ["--samples", "2"]
    rc, rep = _validate(capsys, *args)
    assert rc == 0 and rep["passed"] is True, rep
    assert rep["quantize"] == "int8" and rep["ran_on"] == f"qemu-system-arm {BOARDS[core]}"
    assert all(o["mismatches"] == 0 for o in rep["outputs"])
    mem = rep["memory"]
    assert mem["flash_bytes"] > mem["weights_bytes"] > 0 and mem["ram_bytes"] > mem["arena_bytes"] > 0
    assert mem["arena_bytes"] < mem["float_arena_bytes"]
    assert rep["instructions"] > rep["macs"] > 0
    if net == "digits":
        assert rep["accuracy"]["target"] == rep["accuracy"]["reference"] >= 0.9


def test_several_inputs_and_outputs_in_one_boot(tmp_path, capsys):
    """Samples are laid out input after input, outputs likewise; 5 samples, one QEMU run."""
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 4, 4])  # noqa: E731
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["s"], name="add"),
                           helper.make_node("Mul", ["a", "b"], ["m"], name="mul"),
                           helper.make_node("Relu", ["m"], ["r"], name="relu")], "two",
                          [vi("a"), vi("b")], [vi("s"), vi("r")])
    model = tmp_path / "two.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), model)
    rc, rep = _validate(capsys, model, "--target", "cortex-m3", "--samples", "5")
    assert rc == 0 and rep["passed"] and rep["samples"] == 5 and [o["name"] for o in rep["outputs"]] == ["s", "r"]
    assert all(o["max_abs_err"] == 0 for o in rep["outputs"])  # add/mul/relu: exact in any float arithmetic
