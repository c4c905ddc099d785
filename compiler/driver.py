"""The compile pipeline shared by the CLI, the harness and the benchmarks."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .codegen.c import CModel, generate_c
from .frontend.onnx import load
from .ir import Graph
from .output import write_dir
from .passes import run_passes


def load_and_optimize(model_path: str | os.PathLike, input_shapes=None, log: list[str] | None = None) -> Graph:
    graph = load(model_path, input_shapes)
    return run_passes(graph, log=log)


@dataclass
class Compiled:
    graph: Graph
    out_dir: Path
    c_model: CModel | None = None


def compile_graph(graph: Graph, target_name: str, out_dir: str | os.PathLike, prefix: str = "model",
                  stack_bytes: int | None = None) -> Compiled:
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
    raise NotImplementedError(target.backend)
