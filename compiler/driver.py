"""The compile pipeline shared by the CLI, the harness and the benchmarks."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .codegen.c import CModel, generate_c
from .frontend.onnx import load
from .ir import Graph
from .output import staged_dir, write_dir
from .passes import run_passes


def load_and_optimize(model_path: str | os.PathLike, input_shapes=None, log: list[str] | None = None) -> Graph:
    graph = load(model_path, input_shapes)
    return run_passes(graph, log=log)


@dataclass
class Compiled:
    graph: Graph
    out_dir: Path
    c_model: CModel | None = None
    meta: dict | None = None  # the build folder's convc.json (TVM builds)


def compile_graph(graph: Graph, target_name: str, out_dir: str | os.PathLike, prefix: str = "model",
                  stack_bytes: int | None = None, cuda_arch: str | None = None,
                  tuning: str | os.PathLike | None = None) -> Compiled:
    from convc.targets import get_target, require_toolchain

    target = get_target(target_name)
    if target.backend == "c":
        cm = generate_c(graph, prefix=prefix, target=target.name)
        return Compiled(graph, write_dir(out_dir, cm.files), cm)
    if target.backend == "cortex-m":
        from .codegen.firmware import compile_firmware

        require_toolchain(target)
        files, cm = compile_firmware(graph, target, prefix=prefix, stack_bytes=stack_bytes)
        return Compiled(graph, write_dir(out_dir, files), cm)
    if target.backend == "fpga":  # fixed-point HLS C with the default formats; the CLI builds a FixedPlan itself
        from .fixed.assign import FixedOptions, assign
        from .fixed.build import compile_fpga

        out, _ = compile_fpga(assign(graph, FixedOptions()), out_dir, prefix=prefix, target=target.name)
        return Compiled(graph, out)
    if target.backend == "tvm":
        require_toolchain(target)
        return compile_tvm(graph, target, out_dir, cuda_arch=cuda_arch, tuning=tuning)
    raise NotImplementedError(target.backend)


def compile_tvm(graph: Graph, target, out_dir: str | os.PathLike, cuda_arch: str | None = None,
                tuning: str | os.PathLike | None = None) -> Compiled:
    """Lower to Relax, build for the target's TVM target and write the build folder whole or not
    at all: `model.so` (linked by the target's C++ compiler, a cross compiler for boards),
    `convc.json`, and for boards run under QEMU the deploy bundle (runtime/tvm_deploy.py).
    `tuning`: a `convc tune` database folder; used when it was tuned for this target and graph
    (meta "tuning"), else ignored with a note (meta "tuning_note")."""
    import tvm

    from convc.targets.tvm import resolve_tvm_target

    from .codegen.relax import build_relax, check_cuda_kernels
    from .stats import graph_macs

    tvm_target = resolve_tvm_target(target, cuda_arch)
    database, note = None, None
    if tuning is not None and Path(tuning).exists():
        from .codegen.relax import lower
        from .tune import build_tuned, find_database

        mod = lower(graph)
        database, note = find_database(tuning, graph, target, mod)
    if database is not None:
        tvm_target = database.tvm_target
        ex = build_tuned(mod, database)
    else:
        ex = build_relax(graph, tvm_target)
    checked = check_cuda_kernels(ex, tvm_target["arch"]) if tvm_target["kind"] == "cuda" else None

    def io(name):
        t = graph.tensors[name]
        return {"name": name, "shape": list(t.shape), "dtype": t.dtype}

    meta = {"format": "convc-tvm/1", "name": graph.name, "target": target.name, "tvm_target": tvm_target,
            "tvm_version": tvm.__version__, "library": "model.so", "entry": "main",
            "inputs": [io(i) for i in graph.inputs], "outputs": [io(o) for o in graph.outputs],
            "weights_bytes": sum(t.nbytes for t in graph.tensors.values() if t.is_const),
            "macs": graph_macs(graph)}
    if checked:
        meta["cuda_kernels_checked"] = checked
    if database is not None:
        meta["tuning"] = database.describe()
    if note:
        meta["tuning_note"] = note
    with staged_dir(out_dir) as tmp:
        if target.runner == "qemu-user":
            from tvm.support.cc import cross_compiler

            ex.export_library(str(tmp / "model.so"), fcompile=cross_compiler(target.cxx))
            if importlib.util.find_spec("convc.runtime.tvm_deploy") is not None:  # the board deploy bundle
                deploy = importlib.import_module("convc.runtime.tvm_deploy")
                if hasattr(deploy, "write_deploy_bundle"):
                    deploy.write_deploy_bundle(tmp, target, meta)
        else:
            ex.export_library(str(tmp / "model.so"), cc=target.cxx)
        (tmp / "convc.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return Compiled(graph, Path(out_dir), meta=meta)
