"""FPGA backend: a FixedPlan → all-integer, HLS-friendly C99 (c_templates/fpga/).

One static function per layer (shapes, shifts and bounds baked in), one static array per
intermediate tensor (no shared arena: HLS maps each to its own memory), weights as const integer
arrays, a top function `<prefix>_top(const in_t in[N], out_t out[M])` with array ports, HLS pragmas
through `CONVC_HLS(...)` (active only under `__SYNTHESIS__`), a host test harness and a Makefile.
Python computes every number and every C expression; the templates print them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..fixed.assign import FixedPlan
from ..fixed.format import Fixed
from ..fixed.ops import Layer
from ..fixed.resources import layer_costs, totals
from . import cfmt
from .c import TEMPLATE_DIR, template_env


def _bits(ctype: str) -> int:
    """Storage bits of a C fixed-width integer type name (int16_t → 16)."""
    return np.dtype(ctype[:-2]).itemsize * 8


def lit(v: int) -> str:
    v = int(v)
    return str(v) if -(1 << 31) < v < (1 << 31) else cfmt.literal(v, "int64")


def c_convert(expr: str, frac_from: int, fmt: Fixed) -> str:
    """C expression: the integer `expr` with `frac_from` fractional bits, converted to `fmt`
    (mirrors format.convert: shift with the format's rounding, then saturate or wrap)."""
    s = frac_from - fmt.F
    v = f"(int64_t)({expr})"
    if s > 0:
        v = f"convc_fx_shr_{fmt.rounding}({v}, {s})"
    elif s < 0:
        v = f"convc_fx_shl({v}, {-s})"
    if fmt.overflow == "sat":
        v = f"convc_fx_sat({v}, {lit(fmt.qmin)}, {lit(fmt.qmax)})"
    else:
        v = f"convc_fx_wrap_{'s' if fmt.signed else 'u'}({v}, {fmt.W})"
    return f"({fmt.ctype}){v}"


def c_activation(a: dict, var: str, ctype: str) -> str:
    """C statement applying the lowered activation `a` (ops.common.lower_activation) to variable `var`."""
    op = a["op"]
    if op is None:
        return "/* no activation */"
    if op == "Relu":
        return f"{var} = {var} < 0 ? 0 : {var};"
    if op == "Clip":
        lo, hi = lit(a["lo"]), lit(a["hi"])
        return f"{var} = {var} < {lo} ? {lo} : ({var} > {hi} ? {hi} : {var});"
    if op == "LeakyRelu":
        return f"{var} = {var} < 0 ? ({ctype})convc_fx_shr_rnd((int64_t){var} * {lit(a['alpha'])}, {a['shift']}) : {var};"
    raise KeyError(op)


@dataclass
class Emit:
    """What one layer needs: its template, the values printed, its constant arrays."""

    template: str
    args: dict


class _Ctx:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.weights: list[dict] = []
        self.names: set[str] = set()

    def unique(self, base: str) -> str:
        return cfmt.fresh(base, self.names)

    def const(self, L: Layer, role: str) -> str:
        data, ctype = L.consts[role]
        dtype = ctype.replace("_t", "")
        sym = self.unique(f"{self.prefix}_{role}_{cfmt.sanitize(L.node.name, 24)}")
        fmt = {"w": f"weights {L.weight_fmt.short() if L.weight_fmt else ''}",
               "b": f"bias at F={L.acc.F if L.acc else 0}", "recip": "reciprocals of the window sizes",
               "lut": f"{L.node.op} table, {L.out_fmt.short()}", "exp": "exp(-d) table, F=16",
               "src": "source index of every output element (or tap)", "wts": "interpolation weights",
               "base": "first input element of every output", "shift": "per-channel offsets", "roff": "offsets of the reduced elements",
               "k0": f"constant operand {L.weight_fmt.short() if L.weight_fmt else ''}",
               "k1": f"constant operand {L.weight_fmt.short() if L.weight_fmt else ''}"}.get(role, role)
        self.weights.append({"sym": sym, "ctype": ctype, "size": max(int(data.size), 1),
                             "body": "    " + cfmt.array_body(np.ravel(data).astype(np.int64), dtype),
                             "comment": cfmt.comment(f"{L.node.name}: {fmt}"), "bits": int(data.size) * _bits(ctype)})
        return sym


_EMIT: dict[str, Callable[[Layer, _Ctx, int], Emit]] = {}


def emits(*ops: str):
    def deco(fn):
        for op in ops:
            _EMIT[op] = fn
        return fn
    return deco


def _partition(ctx_sym: str, L: Layer, reuse: int) -> str:
    block = L.kind.cost(L, reuse)["multipliers"]
    return f"CONVC_HLS(HLS ARRAY_PARTITION variable={ctx_sym} cyclic factor={max(block, 1)})"


@emits("Conv")
def _conv(L, ctx, reuse):
    w, b = ctx.const(L, "w"), ctx.const(L, "b")
    p = L.p
    keys = ("n", "c", "m", "cg", "mg", "ih", "iw", "oh", "ow", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw")
    return Emit("conv", {**{k: p[k] for k in keys}, **_acc_args(L), "w": w, "b": b, "acc_t": L.acc.ctype, "reuse": reuse,
                         "partition": _partition(w, L, reuse), "act": c_activation(p["act"], "acc", L.acc.ctype),
                         "store": c_convert("acc", L.acc.F, L.out_fmt)})


@emits("ConvTranspose")
def _conv_transpose(L, ctx, reuse):
    w, b = ctx.const(L, "w"), ctx.const(L, "b")
    p = L.p
    keys = ("n", "c", "m", "cg", "mg", "ih", "iw", "oh", "ow", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw")
    return Emit("conv_transpose", {**{k: p[k] for k in keys}, "w": w, "b": b, "acc_t": L.acc.ctype, "reuse": reuse,
                                   "partition": _partition(w, L, reuse),
                                   "act": c_activation(p["act"], "acc", L.acc.ctype),
                                   "store": c_convert("acc", L.acc.F, L.out_fmt)})


@emits("Gemm", "MatMul")
def _dense(L, ctx, reuse):
    w, b = ctx.const(L, "w"), ctx.const(L, "b")
    p = L.p
    return Emit("dense", {"m": p["m"], "n": p["n"], "k": p["k"], **_acc_args(L), "w": w, "b": b, "acc_t": L.acc.ctype,
                          "reuse": reuse,
                          "partition": _partition(w, L, reuse), "act": c_activation(p["act"], "acc", L.acc.ctype),
                          "store": c_convert("acc", L.acc.F, L.out_fmt)})


def _acc_args(L) -> dict:
    """How each product enters the accumulator, and what happens to the sum (ops.common.Acc)."""
    a = L.acc
    if a.term_shift > 0:
        opn, cls = f"convc_fx_shr_{a.rounding}(", f", {a.term_shift})"
    elif a.term_shift < 0:
        opn, cls = "convc_fx_shl(", f", {-a.term_shift})"
    else:
        opn, cls = "", ""
    fix = f"acc = convc_fx_wrap_s(acc, {a.W}); /* narrowed accumulator: AP_WRAP */" if a.narrowed else "/* accumulator sized to never overflow */"
    return {"term_open": opn, "term_close": cls, "acc_fix": fix}


_POOL_KEYS = ("planes", "ih", "iw", "oh", "ow", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw")


@emits("MaxPool")
def _maxpool(L, ctx, reuse):
    return Emit("maxpool", {**{k: L.p[k] for k in _POOL_KEYS}, "ctype": L.out_fmt.ctype, "init": lit(L.p["init"])})


@emits("AveragePool")
def _avgpool(L, ctx, reuse):
    return Emit("avgpool", {**{k: L.p[k] for k in _POOL_KEYS}, "recip": ctx.const(L, "recip"),
                            "store": c_convert("v", L.p["frac"], L.out_fmt)})


@emits("GlobalAveragePool")
def _gap(L, ctx, reuse):
    return Emit("global_avg", {"planes": L.p["planes"], "inner": L.p["inner"], "recip": lit(L.p["recip"]),
                               "store": c_convert("v", L.p["frac"], L.out_fmt)})


@emits("GlobalMaxPool")
def _gmp(L, ctx, reuse):
    return Emit("global_max", {"planes": L.p["planes"], "inner": L.p["inner"], "ctype": L.out_fmt.ctype,
                               "init": lit(L.p["init"])})


@emits("Add", "Sub", "Mul", "PRelu")
def _binary(L, ctx, reuse):
    from ..ops.common import index_expr, loop_nest

    p = L.p
    ln = loop_nest(p["out_shape"], [o["shape"] for o in p["ops"]])
    terms = []
    for o, st, sh in zip(p["ops"], ln["istrides"], p["shifts"]):
        arr = ctx.const(L, o["const"]) if "const" in o else f"x{o['arg']}"
        v = f"(int64_t){arr}[{index_expr('i', st)}]"
        terms.append(f"convc_fx_shl({v}, {sh})" if sh else v)
    a, b = terms
    expr = {"Add": f"{a} + {b}", "Sub": f"{a} - {b}", "Mul": f"{a} * {b}",
            "PRelu": f"{a} < 0 ? {a} * {b} : convc_fx_shl({a}, {p['fb']})"}[L.node.op]
    return Emit("nest", {"dims": ln["dims"], "value": c_convert(expr, p["F"], L.out_fmt)})


@emits("Relu", "Clip", "LeakyRelu")
def _act(L, ctx, reuse):
    return Emit("act", {"size": L.p["size"], "act": c_activation(L.p["act"], "v", "int64_t"),
                        "store": c_convert("v", L.out_fmt.F, L.out_fmt)})


@emits("Sigmoid", "Tanh", "HardSigmoid", "HardSwish")
def _lut(L, ctx, reuse):
    return Emit("lut", {"size": L.p["size"], "lut": ctx.const(L, "lut"), "shift": L.p["shift"], "offset": L.p["offset"]})


@emits("Softmax")
def _softmax(L, ctx, reuse):
    p = L.p
    return Emit("softmax", {"outer": p["outer"], "n": p["n"], "inner": p["inner"], "row": p["n"] * p["inner"], "shift": p["shift"], "last": p["last"],
                            "scale": lit(p["scale"]), "exp": ctx.const(L, "exp"), "ctype": L.in_fmts[0].ctype,
                            "div": f"convc_fx_div_{L.out_fmt.rounding}", "store": c_convert("v", L.out_fmt.F, L.out_fmt)})


@emits("Slice", "Gather", "Expand", "Tile")
def _gather(L, ctx, reuse):
    return Emit("gather", {"size": L.p["size"], "src": ctx.const(L, "src")})


@emits("Resize")
def _resize(L, ctx, reuse):
    p = L.p
    return Emit("taps", {"planes": p["planes"], "nin": p["nin"], "nout": p["nout"], "taps": p["taps"],
                         "src": ctx.const(L, "src"), "wts": ctx.const(L, "wts"), "store": c_convert("v", p["frac"], L.out_fmt)})


@emits("Reduce")
def _reduce(L, ctx, reuse):
    p = L.p
    update = {"Mean": "v += e;", "Sum": "v += e;", "Max": "if (e > v) v = e;", "Min": "if (e < v) v = e;"}[p["kind"]]
    first = "INT64_MIN" if p["kind"] == "Max" else ("INT64_MAX" if p["kind"] == "Min" else "0")
    final = f"v *= {lit(p['recip'])};" if p["kind"] == "Mean" else "/* no scaling */"
    return Emit("reduce", {"nout": p["nout"], "k": p["k"], "base": ctx.const(L, "base"), "roff": ctx.const(L, "roff"),
                           "init": first, "update": update, "final": final, "store": c_convert("v", p["frac"], L.out_fmt)})


@emits("Split")
def _split(L, ctx, reuse):
    return Emit("split", {"outer": L.p["outer"], "row": L.p["row"], "parts": L.p["parts"]})


@emits("BatchNormalization")
def _batchnorm(L, ctx, reuse):
    p = L.p
    w, c = ctx.const(L, "w"), ctx.const(L, "shift")
    return Emit("nest", {"dims": [p["outer"], p["channels"], p["inner"]],
                         "value": c_convert(f"(int64_t)x0[(i0 * {p['channels']} + i1) * {p['inner']} + i2] * {w}[i1] + {c}[i1]",
                                            p["F"], L.out_fmt)})


@emits("Concat")
def _concat(L, ctx, reuse):
    parts = [{**part, "store": c_convert("v", part["frac"], L.out_fmt)} for part in L.p["parts"]]
    return Emit("concat", {"outer": L.p["outer"], "row": L.p["row"], "parts": parts})


@emits("Transpose")
def _transpose(L, ctx, reuse):
    dims = L.p["dims"]
    idx = " + ".join(f"i{k} * {d['stride']}" for k, d in enumerate(dims)) or "0"
    return Emit("nest", {"dims": [d["extent"] for d in dims], "value": f"x0[{idx}]"})


@emits("Pad")
def _pad(L, ctx, reuse):
    dims = L.p["dims"]
    conds = [f"i{k} >= {d['begin']} && i{k} < {d['begin'] + d['size']}" for k, d in enumerate(dims) if d["extent"] != d["size"]]
    idx = " + ".join(f"(i{k} - {d['begin']}) * {d['stride']}" for k, d in enumerate(dims)) or "0"
    value = f"x0[{idx}]" if not conds else f"({' && '.join(conds)}) ? x0[{idx}] : {lit(L.p['value'])}"
    return Emit("nest", {"dims": [d["extent"] for d in dims], "value": value})


@emits("Reshape", "Identity")
def _copy(L, ctx, reuse):  # only when the reshaped tensor is a graph output (otherwise an alias)
    return Emit("copy", {"size": int(np.prod(L.node_out_shape, dtype=np.int64))})


@dataclass
class HlsModel:
    files: dict[str, str]
    meta: dict


def _io(graph, plan, names, kind):
    out = []
    for k, name in enumerate(names):
        f = plan.act[name]
        tag = kind if len(names) == 1 else f"{kind}{k}"
        t = graph.tensors[name]
        out.append({"name": name, "tag": tag, "TAG": tag.upper(), "buf": f"{tag}_buf", "is_input": kind == "in",
                    "ctype": f.ctype, "size": t.size, "shape": ",".join(map(str, t.shape)), "W": f.W, "I": f.I,
                    "F": f.F, "signed": int(f.signed), "format": str(f), "comment": cfmt.comment(name, 60)})
    return out


def generate_hls(plan: FixedPlan, prefix: str = "model", target: str = "fpga") -> HlsModel:
    graph = plan.graph
    prefix = cfmt.sanitize(prefix, 24).lower()
    reuse = int(plan.options.reuse_factor)
    env = template_env()
    ctx = _Ctx(prefix)
    ins, outs = _io(graph, plan, graph.inputs, "in"), _io(graph, plan, graph.outputs, "out")
    for io in ins + outs:
        ctx.names.add(io["tag"])

    # buffers: graph inputs/outputs are the top function's ports; reshapes alias their input
    buf: dict[str, str] = {io["name"]: io["tag"] for io in ins + outs}
    buffers = []
    for L in plan.layers:
        o = L.node.outputs[0]
        if L.kind.name in ("Reshape", "Identity") and o not in buf:
            buf[o] = buf[L.node.inputs[0]]
            continue
        for o in L.node.outputs:
            if o and o not in buf:
                sym = ctx.unique(f"t{len(buffers)}_{cfmt.sanitize(o, 24)}")
                buf[o] = sym
                buffers.append({"sym": sym, "ctype": L.out_fmt.ctype, "size": graph.tensors[o].size,
                                "comment": cfmt.comment(f"{o}: {L.out_fmt.short()}", 60)})
    kernels, calls = [], []
    for k, L in enumerate(plan.layers):
        o = L.node.outputs[0]
        if L.kind.name in ("Reshape", "Identity") and buf[o] == buf[L.node.inputs[0]]:
            calls.append(f"/* {cfmt.comment(L.node.name)} ({L.node.op}): an alias of its input */")
            continue
        e = _EMIT[L.kind.name](L, ctx, reuse)
        fn = ctx.unique(f"{prefix}_l{k}_{cfmt.sanitize(L.node.name, 28)}")
        act_in = [i for i in L.node.inputs if i and not graph.tensors[i].is_const]
        params = [f"const {plan.act[i].ctype} x{j}[{graph.tensors[i].size}]" for j, i in enumerate(act_in)]
        outs_l = [o for o in L.node.outputs if o]
        params += [f"{L.out_fmt.ctype} y{j}[{graph.tensors[o].size}]" for j, o in enumerate(outs_l)]
        body = env.get_template(f"fpga/{e.template}.j2").render(**e.args)
        kernels.append({"fn": fn, "params": ", ".join(params), "body": body,
                        "comment": cfmt.comment(f"{L.node.name} ({L.node.op}): {', '.join(f.short() for f in L.in_fmts)}"
                                                f" -> {L.out_fmt.short()}", 100)})
        calls.append(f"{fn}({', '.join([buf[i] for i in act_in] + [buf[o] for o in outs_l])});")

    top_params = ", ".join([f"const {prefix}_{io['tag']}_t {io['tag']}[{io['size']}]" for io in ins] +
                           [f"{prefix}_{io['tag']}_t {io['tag']}[{io['size']}]" for io in outs])
    rows = layer_costs(plan)
    tot = totals(plan, rows)
    v = {"prefix": prefix, "PREFIX": prefix.upper(), "ios": ins + outs, "weights": ctx.weights,
         "weight_bits": tot["weight_bits"], "kernels": kernels, "calls": calls, "buffers": buffers,
         "top_params": top_params, "call_args": ", ".join(io["buf"] for io in ins + outs),
         "model_comment": cfmt.comment(graph.name)}
    files = {
        f"{prefix}.h": env.get_template("fpga/model.h.j2").render(**v),
        f"{prefix}.c": env.get_template("fpga/model.c.j2").render(**v),
        f"{prefix}_weights.h": env.get_template("fpga/weights.h.j2").render(**v),
        "convc_fixed.h": (TEMPLATE_DIR / "fpga" / "convc_fixed.h").read_text(),
        "main.c": env.get_template("fpga/host_main.c.j2").render(**v),
        "Makefile": env.get_template("fpga/Makefile.j2").render(**v),
    }

    def io_meta(io):
        f = plan.act[io["name"]]
        return {"name": io["name"], "shape": list(graph.tensors[io["name"]].shape), "dtype": graph.tensors[io["name"]].dtype,
                "int_dtype": f.np_dtype, "format": {"W": f.W, "I": f.I, "signed": f.signed, "rounding": f.rounding,
                                                    "overflow": f.overflow}}

    meta = {"format": "convc-fpga/1", "name": graph.name, "prefix": prefix, "target": target,
            "entry": f"{prefix}_top", "sources": [f"{prefix}.c"],
            "inputs": [io_meta(io) for io in ins], "outputs": [io_meta(io) for io in outs],
            "weights_bytes": sum((w["bits"] + 7) // 8 for w in ctx.weights),
            "activations_bytes": sum(b["size"] * _bits(b["ctype"]) // 8 for b in buffers),
            "fpga": {**tot, "layers": rows}}
    files["convc.json"] = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    return HlsModel(files, meta)
