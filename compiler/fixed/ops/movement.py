"""Data movement in fixed point: Concat (requantizing), Split, Reshape, Transpose, Pad, Slice, Gather, Expand, Tile."""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
from ...ops.registry import get_op
from ..format import quantize
from .common import FxOp, Layer, PassFx, conv_out, fx_op


@fx_op
class ConcatFx(FxOp):
    name = "Concat"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        y = graph.tensors[node.outputs[0]]
        if any(graph.tensors[i].is_const for i in node.inputs if i):
            raise UnsupportedError(f"node '{node.name}' (Concat): constant inputs have no fixed-point implementation")
        ax = node.attrs["axis"] % len(y.shape)
        outer = int(np.prod(y.shape[:ax], dtype=np.int64))
        inner = int(np.prod(y.shape[ax + 1:], dtype=np.int64))
        parts, off = [], 0
        for i, f in zip(node.inputs, in_fmts):
            chunk = graph.tensors[i].shape[ax] * inner
            parts.append({"chunk": chunk, "offset": off, "frac": f.F})
            off += chunk
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"axis": ax, "outer": outer, "row": off, "parts": parts}
        return L

    def simulate(self, L, ins):
        outs, nov = [], 0
        for x, part in zip(ins, L.p["parts"]):
            v, n = conv_out(x, part["frac"], L.out_fmt)
            outs.append(v)
            nov += n
        return np.concatenate(outs, axis=L.p["axis"] + 1), nov


@fx_op
class SplitFx(PassFx):
    """Split along an axis into several outputs, each keeping the input's format."""

    name = "Split"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        ax = node.attrs["axis"] % len(x.shape)
        inner = int(np.prod(x.shape[ax + 1:], dtype=np.int64))
        parts, off = [], 0
        for size in node.attrs["sizes"]:
            parts.append({"chunk": int(size) * inner, "offset": off})
            off += int(size) * inner
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"axis": ax, "outer": int(np.prod(x.shape[:ax], dtype=np.int64)), "row": off, "parts": parts,
               "sizes": [int(v) for v in node.attrs["sizes"]]}
        return L

    def simulate(self, L, ins):
        cuts = np.cumsum(L.p["sizes"])[:-1]
        return [p.copy() for p in np.split(ins[0], cuts, axis=L.p["axis"] + 1)], 0

    def cost(self, L, reuse):
        return {"multipliers": 0, "cycles": L.p["outer"] * L.p["row"]}


@fx_op
class ReshapeFx(PassFx):
    name = "Reshape"

    def cost(self, L, reuse):
        return {"multipliers": 0, "cycles": 0}  # an alias of its input buffer: no hardware

    def simulate(self, L, ins):
        return ins[0].reshape((ins[0].shape[0], *L.node_out_shape)), 0


@fx_op
class IdentityFx(ReshapeFx):
    name = "Identity"


@fx_op
class TransposeFx(PassFx):
    name = "Transpose"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        perm = list(node.attrs["perm"])
        st = [int(np.prod(x.shape[i + 1:], dtype=np.int64)) for i in range(len(x.shape))]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"perm": perm, "dims": [{"extent": x.shape[q], "stride": st[q]} for q in perm]}
        return L

    def simulate(self, L, ins):
        return ins[0].transpose([0] + [q + 1 for q in L.p["perm"]]), 0


@fx_op
class PadFx(PassFx):
    name = "Pad"

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        if node.attrs["mode"] != "constant":
            raise UnsupportedError(f"node '{node.name}' (Pad): mode {node.attrs['mode']} has no fixed-point implementation "
                                   f"(constant does)")
        x = graph.tensors[node.inputs[0]]
        r, pads = len(x.shape), node.attrs["pads"]
        if any(v < 0 for v in pads):
            raise UnsupportedError(f"node '{node.name}' (Pad): cropping (negative pads) is not supported here")
        val = int(quantize(np.array([node.attrs["value"]]), in_fmts[0])[0])
        in_st = [int(np.prod(x.shape[i + 1:], dtype=np.int64)) for i in range(r)]
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"value": val, "pads": list(pads),
               "dims": [{"extent": x.shape[i] + pads[i] + pads[r + i], "begin": pads[i], "size": x.shape[i],
                         "stride": in_st[i]} for i in range(r)]}
        return L

    def simulate(self, L, ins):
        r = len(L.p["dims"])
        widths = [(0, 0)] + [(L.p["pads"][i], L.p["pads"][r + i]) for i in range(r)]
        return np.pad(ins[0], widths, constant_values=L.p["value"]), 0


class _GatherFx(PassFx):
    """Pure data movement (Slice, Gather with constant indices, Expand, Tile):
    the float op's own reference, run on a tensor of element indices, gives the source index of every
    output element; the layer copies through that table (the output keeps the input's format)."""

    def lower(self, node, graph, in_fmts, out_fmt, weight_fmt):
        x = graph.tensors[node.inputs[0]]
        if any(i and not graph.tensors[i].is_const for i in node.inputs[1:]):
            raise UnsupportedError(f"node '{node.name}' ({node.op}): only the first input may be computed")
        self.check(node)
        idx = np.arange(x.size, dtype=np.float64).reshape(x.shape)
        rest = [graph.tensors[i].data if i else None for i in node.inputs[1:]]
        src = np.asarray(get_op(node.op).reference(node, [idx, *rest])[0])
        L = Layer(node, self, in_fmts, out_fmt)
        L.p = {"size": int(src.size), "in_size": x.size}
        L.consts = {"src": (src.astype(np.int64).ravel(), "int32_t")}
        return L

    def check(self, node):
        pass

    def simulate(self, L, ins):
        S = ins[0].shape[0]
        return ins[0].reshape(S, -1)[:, L.consts["src"][0]].reshape((S, *L.node_out_shape)), 0


@fx_op
class SliceFx(_GatherFx):
    name = "Slice"


@fx_op
class GatherFx(_GatherFx):
    name = "Gather"


@fx_op
class ExpandFx(_GatherFx):
    name = "Expand"


@fx_op
class TileFx(_GatherFx):
    name = "Tile"
