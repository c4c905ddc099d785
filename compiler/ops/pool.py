"""MaxPool, AveragePool (1-D and 2-D: pads, auto_pad, strides, dilations, ceil_mode,
count_include_pad), GlobalAveragePool, GlobalMaxPool."""
from __future__ import annotations

import numpy as np

from .conv import resolve_pads
from .registry import CKernel, OpDef, register


def pool_out_size(n, k, s, d, pb, pe, ceil):
    span = n + pb + pe - ((k - 1) * d + 1)
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + pb:  # the last window must start inside the input or left pad
        out -= 1
    return out


class _Pool(OpDef):
    is_max = True

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        x = ctx.tensor(node.input[0])
        r = len(x.shape) - 2
        if r not in (1, 2):
            raise ctx.unsupported(node, f"{r}-D pooling is not supported (1-D and 2-D are)")
        if len([o for o in node.output if o]) > 1:
            raise ctx.unsupported(node, "the Indices output is not supported")
        if int(a.get("storage_order", 0)) != 0:
            raise ctx.unsupported(node, "storage_order=1 is not supported")
        k = [int(v) for v in a["kernel_shape"]]
        s = [int(v) for v in a.get("strides", [1] * r)]
        d = [int(v) for v in a.get("dilations", [1] * r)]
        pads = resolve_pads(a.get("auto_pad", "NOTSET"), x.shape[2:], k, s, d, a.get("pads"))
        attrs = {"kernel_shape": k, "strides": s, "dilations": d, "pads": pads,
                 "ceil_mode": int(a.get("ceil_mode", 0))}
        if not self.is_max:
            attrs["count_include_pad"] = int(a.get("count_include_pad", 0))
        ctx.emit(self.name, [node.input[0]], [node.output[0]], attrs, node=node)

    def _geom(self, node, x_shape):
        """2-D view: (in, out, k, s, d, pads) with 1-D pools as height 1."""
        a = node.attrs
        r = len(x_shape) - 2
        lift = (lambda v: list(v)) if r == 2 else (lambda v: [1] + list(v))
        k, s, d = lift(a["kernel_shape"]), lift(a["strides"]), lift(a["dilations"])
        p = a["pads"] if r == 2 else [0, a["pads"][0], 0, a["pads"][1]]
        ins = lift(x_shape[2:])
        outs = [pool_out_size(ins[i], k[i], s[i], d[i], p[i], p[2 + i], a["ceil_mode"]) for i in range(2)]
        return ins, outs, k, s, d, p

    def infer(self, node, inputs):
        x = inputs[0]
        if self.is_max is False and x.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype {x.dtype} is not supported")
        _, outs, _, _, _, _ = self._geom(node, x.shape)
        out = outs if len(x.shape) == 4 else outs[1:]
        if any(o <= 0 for o in out):
            raise ValueError(f"output size {out} is empty")
        return [((*x.shape[:2], *out), x.dtype)]

    def _windows(self, node, x_shape):
        """Per output axis: for each output index, the valid input indices and the divisor span."""
        ins, outs, k, s, d, p = self._geom(node, x_shape)
        axes = []
        for i in range(2):
            rows = []
            for o in range(outs[i]):
                idx = [o * s[i] - p[i] + j * d[i] for j in range(k[i])]
                valid = [t for t in idx if 0 <= t < ins[i]]
                padded = [t for t in idx if -p[i] <= t < ins[i] + p[2 + i]]
                rows.append((valid, len(padded)))
            axes.append(rows)
        return axes

    def divisors(self, node, x_shape) -> np.ndarray:
        ax = self._windows(node, x_shape)
        inc = self.is_max is False and node.attrs.get("count_include_pad", 0)
        return np.array([[(ph if inc else len(vh)) * (pw if inc else len(vw)) for (vw, pw) in ax[1]]
                         for (vh, ph) in ax[0]], np.float64)

    def reference(self, node, inputs):
        x = inputs[0]
        x4 = x if x.ndim == 4 else x[:, :, None, :]
        ax = self._windows(node, x.shape)
        out = np.empty(x4.shape[:2] + (len(ax[0]), len(ax[1])), x.dtype)
        div = None if self.is_max else self.divisors(node, x.shape)
        for i, (vh, _) in enumerate(ax[0]):
            for j, (vw, _) in enumerate(ax[1]):
                win = x4[:, :, vh][:, :, :, vw]
                if self.is_max:
                    out[:, :, i, j] = win.max(axis=(2, 3))
                else:
                    out[:, :, i, j] = (win.astype(np.float64).sum(axis=(2, 3)) / div[i, j]).astype(x.dtype)
        return [out if x.ndim == 4 else out[:, :, 0, :]]

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        ins, outs, k, s, d, p = self._geom(node, x.shape)
        args = {"planes": x.shape[0] * x.shape[1], "ih": ins[0], "iw": ins[1], "oh": outs[0], "ow": outs[1],
                "in_plane": ins[0] * ins[1], "out_plane": outs[0] * outs[1],
                "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": p[0], "pw": p[1],
                "ctype": ctx.ctype(x.dtype)}
        if self.is_max:
            info = np.iinfo(x.dtype) if np.dtype(x.dtype).kind in "iu" else None
            args["init"] = ctx.literal(info.min, x.dtype) if info else ("-INFINITY" if x.dtype == "float32" else "(-(double)INFINITY)")
            return CKernel("maxpool2d", args)
        args["divisors"] = ctx.add_table(node.name + "_div", self.divisors(node, x.shape).ravel(), x.dtype)
        args["zero"] = ctx.literal(0, x.dtype)
        return CKernel("avgpool2d", args)

    def relax(self, node, bb, args, graph):
        """TVM's pool with explicit padding: the pads, plus at the end what ceil_mode's last window
        reaches past them, so that its floor-mode output size is exactly ours (TVM pads max pools
        with the dtype's minimum, average pools with zeros). Average: count_include_pad sums times
        kh*kw / the divisor table, so every count_include_pad and ceil_mode edge case uses the same
        divisors as the oracle and the C kernel. (One op, not pad + pool: a separate pad fuses into
        the producing Conv, a kernel TVM's CUDA schedules overflow shared memory with.)"""
        from ..codegen.relax import const, op

        x = graph.tensors[node.inputs[0]]
        ins, outs, k, s, d, p = self._geom(node, x.shape)
        xe = args[0] if len(x.shape) == 4 else op.expand_dims(args[0], 2)
        ends = [max(p[2 + i], (outs[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - ins[i] - p[i]) for i in range(2)]
        pads = [p[0], p[1], ends[0], ends[1]]
        if self.is_max:
            y = op.nn.max_pool2d(xe, pool_size=k, strides=s, padding=pads, dilation=d)
        else:
            y = op.nn.avg_pool2d(xe, pool_size=k, strides=s, padding=pads, dilation=d, count_include_pad=True)
            y = op.multiply(y, const(k[0] * k[1] / self.divisors(node, x.shape), x.dtype))
        return y if len(x.shape) == 4 else op.squeeze(y, [2])


@register
class MaxPool(_Pool):
    name = "MaxPool"
    onnx_types = ("MaxPool",)
    is_max = True


@register
class AveragePool(_Pool):
    name = "AveragePool"
    onnx_types = ("AveragePool",)
    is_max = False

    def macs(self, node, graph):
        return int(np.prod(graph.tensors[node.outputs[0]].shape)) * int(np.prod(node.attrs["kernel_shape"]))


class _Global(OpDef):
    reduce = "mean"

    def infer(self, node, inputs):
        x = inputs[0]
        return [(x.shape[:2] + (1,) * (len(x.shape) - 2), x.dtype)]

    def reference(self, node, inputs):
        x = inputs[0]
        axes = tuple(range(2, x.ndim))
        y = x.astype(np.float64).mean(axis=axes, keepdims=True) if self.reduce == "mean" else x.max(axis=axes, keepdims=True)
        return [y.astype(x.dtype)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        axes = list(range(2, len(graph.tensors[node.inputs[0]].shape)))
        return (op.mean if self.reduce == "mean" else op.max)(args[0], axis=axes, keepdims=True)

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        inner = int(np.prod(x.shape[2:], dtype=np.int64))
        args = {"planes": x.shape[0] * x.shape[1], "inner": inner, "ctype": ctx.ctype(x.dtype),
                "count": ctx.literal(inner, x.dtype), "zero": ctx.literal(0, x.dtype)}
        return CKernel("global_" + self.reduce, args)


@register
class GlobalAveragePool(_Global):
    name = "GlobalAveragePool"
    onnx_types = ("GlobalAveragePool",)
    reduce = "mean"


@register
class GlobalMaxPool(_Global):
    name = "GlobalMaxPool"
    onnx_types = ("GlobalMaxPool",)
    reduce = "max"
