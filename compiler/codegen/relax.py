"""TVM backend: Graph → Relax IRModule → tvm.compile.

The module has one function `main` taking the graph inputs in order and returning the graph
output (a tuple when there are several). Each node is lowered by its op's `relax` method (one
per op module, next to the op's oracle and C kernel); constants become `relax.const` of the
weights. After each node the walker checks that the Relax shape and dtype agree with the IR, so
a lowering that computes something of the wrong shape fails here, naming the node.

Ops import this module for `op` (tvm.relax.op) and `const`; TVM itself is imported only when
a TVM target is built.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import tvm
from tvm import relax

from ..errors import UnsupportedError
from ..ir import Graph
from ..ops.registry import OpDef, get_op
from .cfmt import sanitize

op = relax.op


def const(value, dtype: str) -> relax.Constant:
    """A Relax constant holding `value` (a number or an array) as `dtype`."""
    return relax.const(np.asarray(value, dtype=dtype), dtype)  # without dtype, int64/float64 would narrow


def lower(graph: Graph) -> tvm.IRModule:
    missing = [n for n in graph.nodes if type(get_op(n.op)).relax is OpDef.relax]
    if missing:  # one error naming every such node, before TVM builds anything
        shown = ", ".join(f"'{n.name}' ({n.op})" for n in missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise UnsupportedError(f"no TVM lowering for {len(missing)} node(s): {shown}; ops without one: "
                               f"{', '.join(sorted({n.op for n in missing}))}")
    bb = relax.BlockBuilder()
    params = [relax.Var(sanitize(name, 48) or f"input{k}", relax.TensorType(list(graph.tensors[name].shape),
                                                                             graph.tensors[name].dtype))
              for k, name in enumerate(graph.inputs)]
    values: dict[str, relax.Expr] = dict(zip(graph.inputs, params))

    def value(name: str):
        if not name:
            return None
        if name not in values:  # a constant: weights, tables
            t = graph.tensors[name]
            values[name] = const(t.data, t.dtype)
        return values[name]

    with bb.function("main", params):
        with bb.dataflow():
            for node in graph.nodes:
                try:
                    res = get_op(node.op).relax(node, bb, [value(i) for i in node.inputs], graph)
                except UnsupportedError as e:
                    raise UnsupportedError(f"node '{node.name}' ({node.op}): {e}") from None
                outs = list(res) if isinstance(res, (list, tuple)) else [res]
                for name, expr in zip(node.outputs, outs):
                    if name:
                        values[name] = _check(node, name, bb.emit(expr), graph)
            outs = [value(o) for o in graph.outputs]
            gv = bb.emit_output(outs[0] if len(outs) == 1 else relax.Tuple(outs))
        bb.emit_func_output(gv)
    return bb.get()


def _check(node, name: str, var: relax.Var, graph: Graph) -> relax.Var:
    t = graph.tensors[name]
    ty = var.ty
    shape = tuple(int(d) for d in ty.shape.values)
    if shape != tuple(t.shape) or str(ty.dtype) != t.dtype:
        raise AssertionError(f"TVM lowering of node '{node.name}' ({node.op}) gives {ty.dtype}{list(shape)} for "
                             f"'{name}', the IR says {t.dtype}{list(t.shape)}")
    return var


def build_relax(graph: Graph, tvm_target: dict):
    """Lower `graph` and compile it for `tvm_target` (a TVM target dict); returns the Relax VM
    executable (`export_library` writes the shared library)."""
    return tvm.compile(lower(graph), target=tvm.target.Target(tvm_target))


def check_cuda_kernels(ex, arch: str) -> str | None:
    """Compile the CUDA kernels of `ex` with nvcc for `arch`, so that ptxas checks what TVM only
    emitted as source (registers, shared memory per block, ...). Returns what was checked, or None
    when nvcc is not installed. The PyPI TVM packs the kernels into model.so as CUDA source; its
    CUDA runtime compiles them when it loads them (runtime/artifacts.py)."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    import tvm.support.nvcc as tvm_nvcc

    src = _cuda_source(ex.mod)
    if src is None:
        return None
    try:
        with tvm.target.Target({"kind": "cuda", "arch": arch}):
            tvm_nvcc.compile_cuda(src, target_format="fatbin", arch=arch, compiler="nvcc", options=["-w"])
    except Exception as e:  # noqa: BLE001 - nvcc's message is the useful part
        errors = [ln.strip() for ln in str(e).splitlines() if "error" in ln and "Compilation error" not in ln]
        raise UnsupportedError(f"the CUDA kernels TVM generated do not compile for {arch} "
                               f"({errors[0] if errors else str(e).strip()[:200]})") from None
    ver = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"release ([0-9.]+)", ver)
    return f"nvcc {m.group(1) if m else '?'} -arch={arch} (ptxas)"


def _cuda_source(mod) -> str | None:
    if mod.kind == "cuda":
        return mod.inspect_source("")
    for m in mod.imports:
        src = _cuda_source(m)
        if src is not None:
            return src
    return None


def run_vm(vm, arrays: list[np.ndarray], dev) -> list[np.ndarray]:
    """Call `main` on numpy arrays; the outputs as numpy arrays (always a list)."""
    res = vm["main"](*[tvm.runtime.tensor(np.require(a, requirements="C"), dev) for a in arrays])
    if hasattr(res, "numpy"):
        return [res.numpy()]
    return [r.numpy() for r in res]
