"""Pad: modes constant, edge, reflect, wrap; negative pads crop. Per output axis, Python builds
a source-index table (-1 = the constant value); the kernel gathers through the tables."""
from __future__ import annotations

import numpy as np

from .common import index_expr, strides
from .registry import CKernel, OpDef, register

MODES = ("constant", "edge", "reflect", "wrap")


def source_index(n_in: int, begin: int, end: int, mode: str) -> np.ndarray:
    out = np.arange(-begin, n_in + end)
    if mode == "constant":
        return np.where((out >= 0) & (out < n_in), out, -1)
    if mode == "edge":
        return np.clip(out, 0, n_in - 1)
    if mode == "wrap":
        return out % n_in
    if n_in == 1:  # reflect
        return np.zeros_like(out)
    period = 2 * (n_in - 1)
    m = out % period
    return np.where(m < n_in, m, period - m)


@register
class Pad(OpDef):
    name = "Pad"
    onnx_types = ("Pad",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        x = ctx.tensor(node.input[0])
        r = len(x.shape)
        mode = a.get("mode", "constant")
        if mode not in MODES:
            raise ctx.unsupported(node, f"mode {mode!r} is not supported")
        if ctx.opset < 11:
            pads, value = [int(p) for p in a.get("pads", a.get("paddings", []))], float(a.get("value", 0.0))
        else:
            pads = [int(p) for p in ctx.require_const(node, 1, "pads")]
            cv = ctx.require_const(node, 2, "constant_value")
            value = 0.0 if cv is None else cv.item()
            axes = ctx.require_const(node, 3, "axes")
            if axes is not None:
                full = [0] * (2 * r)
                k = len(axes)
                for j, ax in enumerate(int(v) % r for v in axes):
                    full[ax], full[r + ax] = pads[j], pads[k + j]
                pads = full
        if len(pads) != 2 * r:
            raise ctx.unsupported(node, f"pads has {len(pads)} values for rank {r}")
        ctx.emit("Pad", [node.input[0]], [node.output[0]], {"pads": pads, "mode": mode, "value": value}, node=node)

    def tables(self, node, shape):
        r, p = len(shape), node.attrs["pads"]
        return [source_index(shape[d], p[d], p[r + d], node.attrs["mode"]) for d in range(r)]

    def infer(self, node, inputs):
        x = inputs[0]
        r, p = len(x.shape), node.attrs["pads"]
        out = tuple(x.shape[d] + p[d] + p[r + d] for d in range(r))
        if any(d <= 0 for d in out):
            raise ValueError(f"padded shape {list(out)} is empty")
        if node.attrs["mode"] != "constant" and 0 in x.shape:
            raise ValueError("cannot pad an empty axis")
        return [(out, x.dtype)]

    def reference(self, node, inputs):
        x = inputs[0]
        idx = self.tables(node, x.shape)
        valid = np.ones([len(t) for t in idx], bool)
        for d, t in enumerate(idx):
            valid &= (t >= 0).reshape([-1 if k == d else 1 for k in range(x.ndim)])
        src = x[np.ix_(*[np.maximum(t, 0) for t in idx])]
        return [np.where(valid, src, np.asarray(node.attrs["value"]).astype(x.dtype))]

    def relax(self, node, bb, args, graph):
        """A gather through the same per-axis source-index tables as the C kernel; constant mode
        then writes the value where a table says -1."""
        from ..codegen.relax import const, op

        x = graph.tensors[node.inputs[0]]
        tabs = self.tables(node, x.shape)
        y = args[0]
        for d, t in enumerate(tabs):
            if not np.array_equal(t, np.arange(x.shape[d])):
                y = op.take(y, const(np.maximum(t, 0), "int64"), axis=d)
        if node.attrs["mode"] != "constant" or all((t >= 0).all() for t in tabs):
            return y
        valid = np.ones([len(t) for t in tabs], bool)
        for d, t in enumerate(tabs):
            valid &= (t >= 0).reshape([-1 if k == d else 1 for k in range(len(x.shape))])
        return op.where(const(valid, "bool"), y, const(node.attrs["value"], x.dtype))

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        y = graph.tensors[node.outputs[0]]
        tabs = [ctx.add_table(f"{node.name}_ax{d}", t.astype(np.int32), "int32") for d, t in enumerate(self.tables(node, x.shape))]
        ist = strides(x.shape)
        src = " + ".join(f"{t}[i{d}] * {s}" for d, (t, s) in enumerate(zip(tabs, ist))) or "0"
        if node.attrs["mode"] == "constant":
            cond = " || ".join(f"{t}[i{d}] < 0" for d, t in enumerate(tabs))
            val = f"({cond}) ? {ctx.literal(node.attrs['value'], x.dtype)} : x0[{src}]"
        else:
            val = f"x0[{src}]"
        body = f"y0[{index_expr('i', strides(y.shape))}] = {val};"
        return CKernel("loop", {"dims": list(y.shape), "body": body})
