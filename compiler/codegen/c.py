"""C backend: Graph → memory plan → c_templates/*.j2 → model.h, model.c, weights.c, build files.

Python decides every number; templates only print. Each node becomes one static function
whose body comes from the op's kernel template, with its operands named x0, x1, ... (inputs)
and y0, y1, ... (outputs); `<name>_run` calls them in order with pointers into the arena,
the weights or the caller's buffers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from convc import c_templates

from ..ir import Graph
from ..memory import MemoryPlan, plan_memory
from ..ops.registry import get_op
from . import cfmt

TEMPLATE_DIR = Path(c_templates.__file__).resolve().parent  # the c_templates/ folder, installed or not


def template_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        autoescape=False,
    )


@dataclass
class WeightArray:
    symbol: str
    dtype: str
    data: np.ndarray
    comment: str = ""

    @property
    def ctype(self) -> str:
        return cfmt.ctype(self.dtype)

    @property
    def size(self) -> int:
        return max(int(self.data.size), 1)

    @property
    def body(self) -> str:
        return cfmt.array_body(self.data, self.dtype)


@dataclass
class KernelContext:
    """Handed to `OpDef.c_kernel`: lets a kernel add derived constant tables."""

    prefix: str
    weights: list[WeightArray] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)

    def ctype(self, dtype: str) -> str:
        return cfmt.ctype(dtype)

    def literal(self, v, dtype: str) -> str:
        return cfmt.literal(v, dtype)

    def add_table(self, hint: str, data: np.ndarray, dtype: str | None = None) -> str:
        data = np.ascontiguousarray(data)
        dtype = dtype or data.dtype.name
        sym = self.unique(f"{self.prefix}_t{len(self.weights)}_{cfmt.sanitize(hint, 24)}")
        self.weights.append(WeightArray(sym, dtype, data.astype(dtype), hint))
        return sym

    def unique(self, sym: str) -> str:
        return cfmt.fresh(sym, self._names)


@dataclass
class CModel:
    files: dict[str, str]
    plan: MemoryPlan
    meta: dict


def generate_c(graph: Graph, prefix: str = "model", target: str = "c", host_main: bool = True) -> CModel:
    prefix = cfmt.sanitize(prefix, 24).lower()
    env = template_env()
    plan = plan_memory(graph)
    ctx = KernelContext(prefix)

    # constants the nodes read → weights.c
    const_sym: dict[str, str] = {}
    for n in graph.nodes:
        for i in n.inputs:
            t = graph.tensors.get(i) if i else None
            if t is not None and t.is_const and i not in const_sym:
                const_sym[i] = ctx.unique(f"{prefix}_w{len(ctx.weights)}_{cfmt.sanitize(i, 24)}")
                ctx.weights.append(WeightArray(const_sym[i], t.dtype, np.ascontiguousarray(t.data), i))

    # graph inputs/outputs → function parameters
    io_names: dict[str, str] = {}
    used: set[str] = set()
    for kind, names in (("in", graph.inputs), ("out", graph.outputs)):
        for nm in names:
            io_names[nm] = cfmt.fresh(f"{kind}_{cfmt.sanitize(nm, 32)}", used)

    def pointer(name: str, const: bool) -> str:
        while name in plan.aliases:
            name = plan.aliases[name]
        if name in const_sym:
            return const_sym[name]
        if name in io_names:
            return io_names[name]
        ct = cfmt.ctype(graph.tensors[name].dtype)
        return f"({'const ' if const else ''}{ct} *)(arena + {plan.offsets[name]})"

    kernels, calls = [], []
    for k, n in enumerate(graph.nodes):
        op = get_op(n.op)
        if op.alias and n.outputs[0] in plan.aliases:
            calls.append(f"/* {cfmt.comment(n.name)} ({n.op}): reuses its input's bytes */")
            continue
        ck = op.c_kernel(n, graph, ctx)
        fn = ctx.unique(f"{prefix}_k{k}_{cfmt.sanitize(n.name, 28)}")
        in_idx = [j for j, i in enumerate(n.inputs) if i]
        params = [f"const {cfmt.ctype(graph.tensors[n.inputs[j]].dtype)} *x{j}" for j in in_idx]
        params += [f"{cfmt.ctype(graph.tensors[o].dtype)} *y{j}" for j, o in enumerate(n.outputs) if o]
        body = env.get_template(f"kernels/{ck.template}.j2").render(**ck.args)
        unused = [f"x{j}" for j in in_idx if not _mentions(body, f"x{j}")]
        kernels.append({"fn": fn, "params": params, "body": body, "unused": unused,
                        "comment": cfmt.comment(f"{n.name} ({n.op})")})
        args = [pointer(n.inputs[j], True) for j in in_idx] + [pointer(o, False) for o in n.outputs if o]
        calls.append(f"{fn}({', '.join(args)});")

    def io(name: str) -> dict:
        t = graph.tensors[name]
        return {"name": name, "c_name": io_names[name], "shape": list(t.shape), "dtype": t.dtype,
                "ctype": cfmt.ctype(t.dtype), "size": t.size, "comment": cfmt.comment(name),
                "quant": _boundary_quant(graph, name)}

    inputs = [io(i) for i in graph.inputs]
    read = {i for n in graph.nodes for i in n.inputs}
    unused_io = [io_names[i] for i in graph.inputs if i not in read]
    outputs = [io(o) for o in graph.outputs]
    weights_bytes = sum(int(w.data.nbytes) for w in ctx.weights)
    v = {"prefix": prefix, "PREFIX": prefix.upper(), "inputs": inputs, "outputs": outputs,
         "arena_size": plan.arena_size, "weights": ctx.weights, "weights_bytes": weights_bytes,
         "kernels": kernels, "calls": calls, "unused_io": unused_io, "model_comment": cfmt.comment(graph.name),
         "fixedpoint": any(getattr(get_op(n.op), "fixedpoint", False) for n in graph.nodes)}
    files = {
        f"{prefix}.h": env.get_template("model.h.j2").render(**v),
        f"{prefix}.c": env.get_template("model.c.j2").render(**v),
        f"{prefix}_weights.h": env.get_template("weights.h.j2").render(**v),
        f"{prefix}_weights.c": env.get_template("weights.c.j2").render(**v),
        "convc_platform.h": (TEMPLATE_DIR / "convc_platform.h").read_text(),
    }
    if v["fixedpoint"]:
        files["convc_fixedpoint.h"] = (TEMPLATE_DIR / "convc_fixedpoint.h").read_text()
    if host_main:
        files["main.c"] = env.get_template("host_main.c.j2").render(**v)
        files["Makefile"] = env.get_template("Makefile.j2").render(**v)
    meta = {"format": "convc-c/1", "name": graph.name, "prefix": prefix, "target": target,
            "entry": f"{prefix}_run", "sources": [f"{prefix}.c", f"{prefix}_weights.c"],
            "inputs": [{k: d[k] for k in ("name", "c_name", "shape", "dtype")} for d in inputs],
            "outputs": [{k: d[k] for k in ("name", "c_name", "shape", "dtype")} for d in outputs],
            "arena_bytes": plan.arena_size, "weights_bytes": weights_bytes,
            "activations_total_bytes": plan.activations_total}
    files["convc.json"] = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    return CModel(files, plan, meta)


def _boundary_quant(graph: Graph, name: str) -> dict | None:
    """Scale and zero point of the int8 tensor a float graph input is quantized to (its only
    reader is a QuantizeLinear) or a float graph output is dequantized from, for model.h."""
    nodes = [n for n in graph.nodes if name in n.inputs] if name in graph.inputs else \
        [n for n in graph.nodes if name in n.outputs]
    if len(nodes) != 1 or nodes[0].op not in ("QuantizeLinear", "DequantizeLinear"):
        return None
    a = nodes[0].attrs
    return {"scale": cfmt.literal(a["scale"], "float32"), "zero_point": int(a["zero_point"])}


def _mentions(body: str, ident: str) -> bool:
    import re

    return re.search(rf"\b{ident}\b", body) is not None
