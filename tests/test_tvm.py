"""TVM backend, lowered from the convc IR to Relax (targets x86 and cuda).

* every single-node ONNX node test of a claimed op (and the frozen-structural-input ones) runs
  through the x86 TVM build and is compared with the test's expected outputs;
* every IR op with a lowering is exercised by at least one of those cases or a graph below;
* fused activations (each kind the fusion pass attaches to Conv/Gemm) lowered and validated;
* LeNet, the digits ConvNet, ResNet-block, MobileNetV2-style, SqueezeNet-style and DS-CNN
  networks validate on x86 against ONNX Runtime (max abs error <= 1e-4 of the output scale);
* cuda: the same networks compile; without a GPU the report says "not run", never passed.
"""
import collections
import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import tvm
from onnx import TensorProto, helper, numpy_helper

from convc.compiler.cli import main
from convc.compiler.codegen.relax import build_relax, lower, run_vm
from convc.compiler.driver import compile_graph, load_and_optimize
from convc.compiler.errors import UnsupportedError
from convc.compiler.frontend.onnx import import_model
from convc.compiler.ir import Graph, Node, Tensor
from convc.compiler.ops.activations import FUSABLE
from convc.compiler.ops.registry import OpDef, all_ops, get_op, onnx_op
from convc.runtime.harness import validate
from convc.targets import get_target
from convc.targets.tvm import resolve_tvm_target
from networks import ALL
from node_test_exclusions import EXCLUDED, RUNTIME_SHAPE
from onnx_cases import _array, claimed_node_cases, freeze_inputs, kept_inputs, node_cases

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "examples" / "digits" / "digits.onnx"
DIGITS_DATA = ROOT / "examples" / "digits" / "digits_test.npz"
X86 = resolve_tvm_target(get_target("x86"))
HAS_GPU = tvm.cuda(0).exist

# ops that never reach a backend: shape arithmetic folded to constants at import
FOLD_ONLY = {"Shape", "Size", "ConstantOfShape", "Range"}


def lowered_ops() -> set[str]:
    return {k for k, v in all_ops().items() if type(v).relax is not OpDef.relax}


def int8_ops() -> set[str]:
    """The integer ops (compiler/ops/q*.py, quantize_linear.py): their TVM lowering is not written
    yet; they fail with "op X has no TVM lowering"."""
    return {k for k, v in all_ops().items() if type(v).__module__.rsplit(".", 1)[-1].startswith("q")}


# ---------------------------------------------------------------------------------------------
# per-op lowering: ONNX node tests


def _single_node_cases() -> dict[str, tuple]:
    """name -> (model, data_sets, rtol, atol) of every one-node claimed case, frozen ones included."""
    out = {}
    for name in claimed_node_cases(EXCLUDED):
        model, sets, rtol, atol = node_cases()[name]
        if len(model.graph.node) == 1:
            out[name] = (model, sets, rtol, atol)
    for name in sorted(k for k, v in EXCLUDED.items() if v == RUNTIME_SHAPE and "/" not in k):
        model, sets, rtol, atol = node_cases()[name]
        if len(model.graph.node) == 1:
            for k, (ins, outs) in enumerate(sets):
                out[f"{name}/frozen{k}"] = (freeze_inputs(model, ins), [(ins[:kept_inputs(model)], outs)], rtol, atol)
    return out


CASES = _single_node_cases()
BY_OP = collections.defaultdict(list)
for _name, (_model, *_rest) in CASES.items():
    _op = onnx_op(_model.graph.node[0].op_type)
    if _op is not None and _op.name not in int8_ops():  # integer ops: no TVM lowering yet
        BY_OP[_model.graph.node[0].op_type].append(_name)


def run_tvm(graph: Graph, feeds: list[dict]) -> list[list[np.ndarray]]:
    vm = tvm.relax.VirtualMachine(build_relax(graph, X86), tvm.cpu())
    return [run_vm(vm, [f[i].astype(graph.tensors[i].dtype) for i in graph.inputs], tvm.cpu()) for f in feeds]


def check_close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    if want.dtype.kind in "fc":  # float32 computed in float32: a float32-sized error floor, as for C
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=max(atol, 1e-6))
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("op_type", sorted(BY_OP))
def test_node_cases_on_x86(op_type):
    """Each one-node ONNX test of this op type: TVM output == the test's expected output."""
    checked = 0
    for name in BY_OP[op_type]:
        model, sets, rtol, atol = CASES[name]
        graph = import_model(model)
        if not graph.nodes:  # folded to a constant at import: nothing reaches a backend
            continue
        feeds = [{n: _array(a) for n, a in zip(graph.inputs, ins)} for ins, _ in sets]
        for (_, outs), got in zip(sets, run_tvm(graph, feeds)):
            for o, g, want in zip(graph.outputs, got, outs):
                try:
                    check_close(g, _array(want), rtol, atol)
                except AssertionError as e:
                    raise AssertionError(f"{name}, output '{o}': {e}") from None
        checked += 1
    if op_type not in ("Constant", "Shape", "Size"):
        assert checked, f"no case of {op_type} reached TVM"


def _graph(nodes, inputs, outputs, inits=(), opset=18):
    g = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _extra_graphs() -> dict[str, onnx.ModelProto]:
    """Ops whose node tests are not in the one-node set (Not's tests are opset 1)."""
    f = lambda n, s, t=TensorProto.FLOAT: helper.make_tensor_value_info(n, t, s)  # noqa: E731
    return {
        "not": _graph([helper.make_node("Greater", ["x", "y"], ["g"]), helper.make_node("Not", ["g"], ["z"]),
                       helper.make_node("Where", ["z", "x", "y"], ["w"])],
                      [f("x", [2, 5]), f("y", [2, 5])], [f("w", [2, 5])]),
    }


@pytest.mark.parametrize("name", sorted(_extra_graphs()))
def test_extra_graphs_on_x86(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    onnx.save(_extra_graphs()[name], path)
    rep = validate(str(path), "x86", samples=3)
    assert rep["passed"] and rep["outputs"][0]["compared_with"] == "onnxruntime", rep


def test_constant_node_lowered():
    """A Constant node (the importer folds ONNX Constants; the IR op still has a lowering)."""
    g = Graph("const")
    g.add_tensor(Tensor("x", (2, 3), "float32"))
    g.inputs = ["x"]
    g.nodes.append(Node("c", "Constant", [], ["c"], {"value": np.arange(6, dtype=np.float64).reshape(2, 3)}))
    g.add_tensor(Tensor("c", (2, 3), "float64"))
    g.nodes.append(Node("cast", "Cast", ["c"], ["c32"], {"to": "float32"}))
    g.add_tensor(Tensor("c32", (2, 3), "float32"))
    g.nodes.append(Node("add", "Add", ["x", "c32"], ["y"]))
    g.add_tensor(Tensor("y", (2, 3), "float32"))
    g.outputs = ["y"]
    g.verify()
    x = np.ones((2, 3), np.float32)
    (y,), = run_tvm(g, [{"x": x}])
    np.testing.assert_array_equal(y, x + np.arange(6, dtype=np.float32).reshape(2, 3))


def test_every_lowered_op_is_exercised():
    seen = set()
    for model in [CASES[n][0] for names in BY_OP.values() for n in names] + list(_extra_graphs().values()):
        seen |= {n.op for n in import_model(model).nodes}
    assert lowered_ops() - seen <= {"Constant"}  # Constant: test_constant_node_lowered


def test_ops_without_lowering_are_known():
    """Every op that can reach a backend has a TVM lowering, except the int8 ops (not yet)."""
    assert set(all_ops()) - lowered_ops() <= FOLD_ONLY | int8_ops()


def test_missing_lowering_names_node_and_op(monkeypatch):
    graph = load_and_optimize(str(DIGITS))
    conv = next(n for n in graph.nodes if n.op == "Conv")
    monkeypatch.setattr(type(get_op("Conv")), "relax", OpDef.relax)
    n_conv = sum(n.op == "Conv" for n in graph.nodes)
    with pytest.raises(UnsupportedError, match=f"no TVM lowering for {n_conv} node\\(s\\): '{conv.name}' \\(Conv\\), .*"
                                               "ops without one: Conv$"):
        lower(graph)


# ---------------------------------------------------------------------------------------------
# fused activations


def test_fused_activations(tmp_path):
    """Conv and Gemm with each fusable activation: fused by the passes, lowered, vs ONNX Runtime."""
    rng = np.random.default_rng(1)
    w = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.5  # noqa: E731
    acts = [helper.make_node("LeakyRelu", ["c0"], ["a0"], alpha=0.1), helper.make_node("HardSwish", ["c1"], ["a1"]),
            helper.make_node("Clip", ["c2", "lo", "hi"], ["a2"]), helper.make_node("Relu", ["c3"], ["a3"])]
    nodes = []
    prev = "x"
    for k in range(4):
        nodes += [helper.make_node("Conv", [prev, f"w{k}", f"b{k}"], [f"c{k}"], pads=[1, 1, 1, 1]), acts[k]]
        prev = f"a{k}"
    nodes += [helper.make_node("Flatten", [prev], ["f"]),
              helper.make_node("Gemm", ["f", "g0", "gb0"], ["d0"], transB=1), helper.make_node("Clip", ["d0", "lo", "hi"], ["e0"]),
              helper.make_node("Gemm", ["e0", "g1"], ["d1"]), helper.make_node("LeakyRelu", ["d1"], ["y"], alpha=0.2)]
    inits = [(f"w{k}", w(4, 3 if k == 0 else 4, 3, 3)) for k in range(4)] + [(f"b{k}", w(4)) for k in range(4)]
    inits += [("g0", w(8, 64)), ("gb0", w(8)), ("g1", w(8, 5)), ("lo", np.array(0, np.float32)), ("hi", np.array(0.8, np.float32))]
    model = _graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    path = tmp_path / "fused.onnx"
    onnx.save(model, path)
    graph = load_and_optimize(str(path))
    fused = {n.attrs["activation"]["op"] for n in graph.nodes if n.op in ("Conv", "Gemm") and n.attrs.get("activation")}
    assert fused == set(FUSABLE) and {n.op for n in graph.nodes} <= {"Conv", "Gemm", "Reshape"}
    rep = validate(str(path), "x86", samples=4)
    assert rep["passed"], rep
    assert rep["outputs"][0]["compared_with"] == "onnxruntime"


# ---------------------------------------------------------------------------------------------
# networks


def _model(name: str, tmp_path: Path) -> tuple[str, str | None]:
    if name == "digits":
        return str(DIGITS), str(DIGITS_DATA)
    path = tmp_path / f"{name}.onnx"
    onnx.save(ALL[name](), path)
    return str(path), None


NETWORKS = sorted(ALL) + ["digits"]


@pytest.mark.parametrize("name", NETWORKS)
def test_network_validates_on_x86(name, tmp_path):
    model, data = _model(name, tmp_path)
    rep = validate(model, "x86", data=data, samples=3, build_dir=str(tmp_path / "build"))
    assert rep["passed"], rep
    assert rep["ran_on"].startswith("host") and f"TVM llvm -mcpu={X86['mcpu']}" in rep["ran_on"]
    out = rep["outputs"][0]
    assert out["compared_with"] == "onnxruntime" and out["max_abs_err"] <= 1e-4 * out["scale"]
    assert out["top1_agreement"] == 1.0
    if data:
        assert rep["accuracy"]["target"] == rep["accuracy"]["float"] > 0.95
    meta = json.loads((tmp_path / "build" / "convc.json").read_text())
    assert meta["target"] == "x86" and meta["tvm_target"]["kind"] == "llvm" and meta["tvm_target"]["mcpu"] != "generic"
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["convc.json", "model.so"]


@pytest.mark.parametrize("name", NETWORKS)
def test_network_on_cuda(name, tmp_path):
    """Compiles for the GPU; runs and passes where a GPU exists, else reported as not run."""
    model, data = _model(name, tmp_path)
    build = tmp_path / "build"
    rep = validate(model, "cuda", data=data, samples=2, build_dir=str(build))
    meta = json.loads((build / "convc.json").read_text())
    assert meta["tvm_target"]["kind"] == "cuda" and meta["library"] == "model.so"
    lib = (build / "model.so").read_bytes()
    assert b"__global__" in lib  # the device kernels are packed into the library
    if shutil.which("nvcc"):  # and they compile for the architecture (ptxas: registers, shared memory)
        assert meta["cuda_kernels_checked"].startswith("nvcc ") and "-arch=sm_80" in meta["cuda_kernels_checked"]
    else:
        assert "cuda_kernels_checked" not in meta
    if HAS_GPU:
        assert rep["passed"] is True and rep["ran_on"].startswith("GPU"), rep
    else:
        assert meta["tvm_target"]["arch"] == "sm_80"
        assert rep["ran_on"] is None and rep["passed"] is None and rep["outputs"] == []
        assert rep["not_run"] == "no GPU on this machine (compiled only)"


def test_cuda_kernels_that_do_not_compile_are_an_error(tmp_path, monkeypatch):
    """What nvcc refuses (here: a stand-in for ptxas's shared-memory error) fails the build, with
    nvcc's line in the message, and writes no folder."""
    import tvm.support.nvcc as tvm_nvcc

    def refuse(*a, **k):
        raise RuntimeError("Compilation error:\nptxas error   : Entry function 'k' uses too much shared data")

    monkeypatch.setattr(tvm_nvcc, "compile_cuda", refuse)
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda tool, *a, **k: "/usr/bin/nvcc" if tool == "nvcc" else which(tool, *a, **k))
    with pytest.raises(UnsupportedError, match="do not compile for sm_80 \\(ptxas error   : Entry function 'k' uses too much"):
        compile_graph(load_and_optimize(str(DIGITS)), "cuda", tmp_path / "b")
    assert not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------------------
# command line


def test_cli_compile_run_x86(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["compile", str(DIGITS), "--target", "x86", "-o", str(out)]) == 0
    assert "model.so (TVM" in capsys.readouterr().out
    data = np.load(DIGITS_DATA)
    np.savez(tmp_path / "in.npz", input=data["input"][:5])
    assert main(["run", str(out), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    assert "TVM llvm" in capsys.readouterr().out
    logits = np.load(tmp_path / "out.npz")["logits"]
    assert logits.shape == (5, 1, 10) and (logits.reshape(5, 10).argmax(1) == data["labels"][:5]).mean() >= 0.8


@pytest.mark.skipif(HAS_GPU, reason="checks the no-GPU report")
def test_cli_cuda_without_gpu_says_not_run(tmp_path, capsys):
    assert main(["validate", str(DIGITS), "--target", "cuda", "--cuda-arch", "sm_86", "--samples", "1",
                 "-o", str(tmp_path / "b"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ran_on"] is None and rep["passed"] is None and "no GPU" in rep["not_run"]
    assert json.loads((tmp_path / "b" / "convc.json").read_text())["tvm_target"]["arch"] == "sm_86"
    assert main(["validate", str(DIGITS), "--target", "cuda", "--samples", "1"]) == 0
    text = capsys.readouterr().out
    assert "NOT RUN: no GPU on this machine (compiled only)" in text and "PASSED" not in text


def test_cli_bad_cuda_arch_and_unknown_target(capsys):
    assert main(["compile", str(DIGITS), "--target", "cuda", "--cuda-arch", "ampere"]) == 2
    assert "error: --cuda-arch 'ampere'" in capsys.readouterr().err
    assert main(["compile", str(DIGITS), "--target", "x86", "--cuda-arch", "sm_80"]) == 2
    assert main(["compile", str(DIGITS), "--target", "x64"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'x64'" in err and all(t in err for t in ("x86", "cuda", "arm", "armv7"))


def test_failed_build_leaves_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "b"
    graph = load_and_optimize(str(DIGITS))
    compile_graph(graph, "x86", out)
    before = (out / "model.so").read_bytes()
    def broken(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(tvm.runtime.Module, "export_library", broken)
    with pytest.raises(OSError):
        compile_graph(graph, "x86", out)
    assert (out / "model.so").read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_run_refuses_what_it_cannot_run(tmp_path, capsys):
    """`convc run` on a damaged x86 build, and on a cuda build without a GPU: exit 2 with one error line."""
    out = tmp_path / "b"
    assert main(["compile", str(DIGITS), "--target", "x86", "-o", str(out)]) == 0
    np.savez(tmp_path / "in.npz", input=np.load(DIGITS_DATA)["input"][:1])
    (out / "model.so").write_bytes(b"not a library")
    capsys.readouterr()
    assert main(["run", str(out), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot load the TVM library" in err and "Traceback" not in err
    if not HAS_GPU:
        assert main(["compile", str(DIGITS), "--target", "cuda", "-o", str(tmp_path / "c")]) == 0
        assert main(["run", str(tmp_path / "c"), "--input", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")]) == 2
        assert "no GPU on this machine" in capsys.readouterr().err
        assert not (tmp_path / "o.npz").exists()


def test_cuda_runner_sets_up_the_kernel_compiler(monkeypatch):
    """The cuda runner's kernel compiler (used when a GPU exists): TVM's callback registered, nvcc
    chosen when NVRTC's Python bindings are absent, a clear error when neither is installed."""
    import importlib.util

    import tvm_ffi

    from convc.compiler.errors import ToolchainError
    from convc.runtime.artifacts import _cuda_kernel_compiler

    monkeypatch.setenv("TVM_CUDA_COMPILE_MODE", "unset")  # recorded, so the variable is removed afterwards
    monkeypatch.delenv("TVM_CUDA_COMPILE_MODE")
    has_bindings = importlib.util.find_spec("cuda") is not None and importlib.util.find_spec("cuda.bindings") is not None
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda t, *a, **k: "/usr/bin/nvcc" if t == "nvcc" else which(t, *a, **k))
    _cuda_kernel_compiler()
    assert tvm_ffi.get_global_func("tvm_callback_cuda_compile", allow_missing=True) is not None
    assert os.environ.get("TVM_CUDA_COMPILE_MODE") == (None if has_bindings else "nvcc")
    if not has_bindings:
        monkeypatch.delenv("TVM_CUDA_COMPILE_MODE")
        monkeypatch.setattr(shutil, "which", lambda t, *a, **k: None if t == "nvcc" else which(t, *a, **k))
        with pytest.raises(ToolchainError, match="cuda-bindings.*nvidia-cuda-toolkit"):
            _cuda_kernel_compiler()
