"""Conv (1-D and 2-D): groups, depthwise, dilations, strides, pads, auto_pad, optional bias,
and an optional fused `activation` (set by passes.fuse_activation)."""
from __future__ import annotations

import numpy as np

from .activations import activation_expr, apply_activation, relax_activation
from .common import need_float
from .registry import CKernel, OpDef, register


def resolve_pads(auto_pad: str, in_sp, k_sp, strides, dilations, pads):
    """Explicit pads (begins then ends) for the ONNX auto_pad modes."""
    r = len(in_sp)
    if auto_pad in ("", "NOTSET"):
        return list(pads) if pads else [0] * (2 * r)
    if auto_pad == "VALID":
        return [0] * (2 * r)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for i in range(r):
            out = -(-in_sp[i] // strides[i])
            total = max(0, (out - 1) * strides[i] + (k_sp[i] - 1) * dilations[i] + 1 - in_sp[i])
            small, big = total // 2, total - total // 2
            b, e = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            begins.append(b)
            ends.append(e)
        return begins + ends
    raise ValueError(f"auto_pad {auto_pad!r} is not an ONNX value")


def window_attrs(ctx, node, what: str):
    """(attrs, x, spatial rank, kernel_shape, strides, dilations) of a 1-D/2-D Conv-like node."""
    a = ctx.attrs(node)
    x, w = ctx.tensor(node.input[0]), ctx.tensor(node.input[1])
    r = len(x.shape) - 2
    if r not in (1, 2):
        raise ctx.unsupported(node, f"{r}-D {what} is not supported (1-D and 2-D are)")
    k = [int(v) for v in a.get("kernel_shape", w.shape[2:])]
    strides = [int(v) for v in a.get("strides", [1] * r)]
    dil = [int(v) for v in a.get("dilations", [1] * r)]
    return a, x, r, k, strides, dil


def window_2d(attrs: dict, x_shape, y_shape):
    """A 1-D or 2-D window op (Conv, ConvTranspose) seen as 2-D, 1-D being height 1: kernel, strides,
    dilations (each [h, w]), pads [top, left, bottom, right], input (ih, iw) and output (oh, ow)."""
    two = (lambda v: list(v)) if len(x_shape) == 4 else (lambda v: [1] + list(v))
    p = attrs["pads"] if len(x_shape) == 4 else [0, attrs["pads"][0], 0, attrs["pads"][1]]
    return (two(attrs["kernel_shape"]), two(attrs["strides"]), two(attrs["dilations"]), list(p),
            tuple(two(x_shape[2:])), tuple(two(y_shape[2:])))


def window_kernel_args(node, graph, ctx) -> dict:
    """Template arguments shared by the Conv and ConvTranspose kernels; 1-D is 2-D with height 1."""
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    a = node.attrs
    k, s, d, p, (ih, iw), (oh, ow) = window_2d(a, x.shape, y.shape)
    has_bias = len(node.inputs) > 2 and bool(node.inputs[2])
    dt = x.dtype
    return {"n": x.shape[0], "c": x.shape[1], "group": a["group"], "cg": x.shape[1] // a["group"],
            "ih": ih, "iw": iw, "in_plane": ih * iw, "k_plane": k[0] * k[1], "oh": oh, "ow": ow,
            "kh": k[0], "kw": k[1], "sh": s[0], "sw": s[1], "dh": d[0], "dw": d[1], "ph": p[0], "pw": p[1],
            "ctype": ctx.ctype(dt), "init": "x2[oc]" if has_bias else ctx.literal(0, dt),
            "store": activation_expr(a.get("activation"), "acc", dt)}


def conv_out_size(n, k, s, d, pb, pe):
    return (n + pb + pe - ((k - 1) * d + 1)) // s + 1


def relax_window_2d(node, graph, args):
    """TVM lowering, shared by Conv and ConvTranspose: (x, w, kernel, strides, dilations, pads)
    as 2-D NCHW operands and values; 1-D gets a height-1 axis, as in the C kernels."""
    from ..codegen.relax import op

    a = node.attrs
    x, w = args[0], args[1]
    if len(graph.tensors[node.inputs[0]].shape) == 4:
        return x, w, a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    p = a["pads"]
    return (op.expand_dims(x, 2), op.expand_dims(w, 2), [1] + a["kernel_shape"], [1] + a["strides"],
            [1] + a["dilations"], [0, p[0], 0, p[1]])


def relax_bias_act(node, graph, args, y):
    """TVM lowering: the optional per-channel bias and the fused activation on the 2-D result
    `y`, which returns to 1-D when the node is 1-D."""
    from ..codegen.relax import op

    out = graph.tensors[node.outputs[0]]
    if len(args) > 2 and args[2] is not None:
        y = op.add(y, op.reshape(args[2], [-1, 1, 1]))
    if len(out.shape) == 3:
        y = op.squeeze(y, [2])
    return relax_activation(node.attrs.get("activation"), y, out.dtype)


@register
class Conv(OpDef):
    name = "Conv"
    onnx_types = ("Conv",)

    def import_onnx(self, ctx, node):
        a, x, r, k, strides, dil = window_attrs(ctx, node, "convolution")
        pads = resolve_pads(a.get("auto_pad", "NOTSET"), x.shape[2:], k, strides, dil, a.get("pads"))
        attrs = {"kernel_shape": k, "strides": strides, "dilations": dil, "pads": pads, "group": int(a.get("group", 1))}
        ctx.emit("Conv", list(node.input[:3]), [node.output[0]], attrs, node=node)

    def _geom(self, node, x_shape, w_shape):
        a = node.attrs
        r = len(x_shape) - 2
        p = a["pads"]
        out = [conv_out_size(x_shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["dilations"][i], p[i], p[r + i])
               for i in range(r)]
        return r, out

    def infer(self, node, inputs):
        x, w = inputs[0], inputs[1]
        need_float(node, x.dtype)
        g = node.attrs["group"]
        if x.shape[1] != w.shape[1] * g or w.shape[0] % g:
            raise ValueError(f"channels {x.shape[1]} and weight {list(w.shape)} disagree with group={g}")
        if list(w.shape[2:]) != node.attrs["kernel_shape"]:
            raise ValueError(f"kernel_shape {node.attrs['kernel_shape']} != weight {list(w.shape[2:])}")
        _, out = self._geom(node, x.shape, w.shape)
        if any(o <= 0 for o in out):
            raise ValueError(f"output size {out} is empty")
        return [((x.shape[0], w.shape[0], *out), x.dtype)]

    def reference(self, node, inputs):
        x, w = inputs[0], inputs[1]
        b = inputs[2] if len(inputs) > 2 else None
        a = node.attrs
        r, out = self._geom(node, x.shape, w.shape)
        x2, w2 = (x, w) if r == 2 else (x[:, :, None, :], w[:, :, None, :])
        k = a["kernel_shape"] if r == 2 else [1] + a["kernel_shape"]
        s = a["strides"] if r == 2 else [1] + a["strides"]
        d = a["dilations"] if r == 2 else [1] + a["dilations"]
        p = a["pads"] if r == 2 else [0, a["pads"][0], 0, a["pads"][1]]
        oh, ow = out if r == 2 else [1] + out
        xp = np.pad(x2, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
        n, c = x2.shape[:2]
        g, m = a["group"], w.shape[0]
        cg, mg = c // g, m // g
        y = np.zeros((n, m, oh, ow), np.float64)
        for kh in range(k[0]):
            for kw in range(k[1]):
                patch = xp[:, :, kh * d[0]: kh * d[0] + s[0] * (oh - 1) + 1: s[0],
                           kw * d[1]: kw * d[1] + s[1] * (ow - 1) + 1: s[1]]
                for gi in range(g):
                    y[:, gi * mg:(gi + 1) * mg] += np.einsum(
                        "nchw,mc->nmhw", patch[:, gi * cg:(gi + 1) * cg], w2[gi * mg:(gi + 1) * mg, :, kh, kw])
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        y = y.astype(x.dtype).reshape((n, m, *out))
        return [apply_activation(a.get("activation"), y)]

    def macs(self, node, graph):
        y = graph.tensors[node.outputs[0]]
        w = graph.tensors[node.inputs[1]]
        return int(np.prod(y.shape)) * int(np.prod(w.shape[1:]))

    def c_kernel(self, node, graph, ctx):
        w = graph.tensors[node.inputs[1]]
        args = window_kernel_args(node, graph, ctx)
        args.update({"m": w.shape[0], "mg": w.shape[0] // node.attrs["group"]})
        return CKernel("conv2d", args)

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        x, w, _, s, d, p = relax_window_2d(node, graph, args)
        y = op.nn.conv2d(x, w, strides=s, padding=p, dilation=d, groups=node.attrs["group"])
        return relax_bias_act(node, graph, args, y)


def conv_transpose_geometry(in_sp, k, strides, dil, out_pad, auto_pad, pads, output_shape):
    """(pads begins+ends, output spatial size) following the ONNX reference implementation."""
    r = len(in_sp)
    full = [strides[i] * (in_sp[i] - 1) + out_pad[i] + (k[i] - 1) * dil[i] + 1 for i in range(r)]
    if pads is None and auto_pad in ("SAME_UPPER", "SAME_LOWER") or output_shape is not None and pads is None:
        out = list(output_shape) if output_shape is not None else [in_sp[i] * strides[i] for i in range(r)]
        total = [full[i] - out[i] for i in range(r)]
        if auto_pad == "SAME_UPPER":
            pads = [t // 2 for t in total] + [t - t // 2 for t in total]
        else:
            pads = [t - t // 2 for t in total] + [t // 2 for t in total]
        return pads, out
    pads = list(pads) if pads is not None else [0] * (2 * r)
    out = list(output_shape) if output_shape is not None else [full[i] - pads[i] - pads[r + i] for i in range(r)]
    return pads, out


@register
class ConvTranspose(OpDef):
    """Transposed convolution (1-D and 2-D): groups, strides, dilations, pads, auto_pad,
    output_padding, output_shape, optional bias and fused activation. Weight layout (C, M/group, k...)."""

    name = "ConvTranspose"
    onnx_types = ("ConvTranspose",)

    def import_onnx(self, ctx, node):
        a, x, r, k, strides, dil = window_attrs(ctx, node, "transposed convolution")
        out_pad = [int(v) for v in a.get("output_padding", [0] * r)]
        oshape = a.get("output_shape")
        if oshape is not None:
            oshape = [int(v) for v in oshape][-r:]
        pads = a.get("pads")
        if a.get("auto_pad", "NOTSET") == "VALID":
            pads = [0] * (2 * r)
        pads, out = conv_transpose_geometry(x.shape[2:], k, strides, dil, out_pad, a.get("auto_pad", "NOTSET"),
                                            None if pads is None else [int(v) for v in pads], oshape)
        attrs = {"kernel_shape": k, "strides": strides, "dilations": dil, "pads": pads, "output_size": out,
                 "group": int(a.get("group", 1))}
        ctx.emit("ConvTranspose", list(node.input[:3]), [node.output[0]], attrs, node=node)

    def infer(self, node, inputs):
        x, w = inputs[0], inputs[1]
        need_float(node, x.dtype)
        g = node.attrs["group"]
        if x.shape[1] != w.shape[0] or w.shape[0] % g:
            raise ValueError(f"channels {x.shape[1]} and weight {list(w.shape)} disagree with group={g}")
        if list(w.shape[2:]) != node.attrs["kernel_shape"]:
            raise ValueError(f"kernel_shape {node.attrs['kernel_shape']} != weight {list(w.shape[2:])}")
        out = node.attrs["output_size"]
        if any(o <= 0 for o in out):
            raise ValueError(f"output size {out} is empty")
        return [((x.shape[0], w.shape[1] * g, *out), x.dtype)]

    def reference(self, node, inputs):
        """Scatter form: every input pixel adds its weighted kernel into the (padded) output."""
        x, w = inputs[0], inputs[1]
        b = inputs[2] if len(inputs) > 2 else None
        a = node.attrs
        r = x.ndim - 2
        lift = (lambda v: list(v)) if r == 2 else (lambda v: [1] + list(v))
        s, d, k = lift(a["strides"]), lift(a["dilations"]), lift(a["kernel_shape"])
        p = a["pads"] if r == 2 else [0, a["pads"][0], 0, a["pads"][1]]
        out = lift(a["output_size"])
        x2 = x if r == 2 else x[:, :, None, :]
        w2 = w if r == 2 else w[:, :, None, :]
        n, c, ih, iw = x2.shape
        g = a["group"]
        cg, mg = c // g, w.shape[1]
        full = [max(s[i] * (x2.shape[2 + i] - 1) + (k[i] - 1) * d[i] + 1, p[i] + out[i]) for i in range(2)]
        y = np.zeros((n, g * mg, full[0], full[1]), np.float64)
        for ky in range(k[0]):
            for kx in range(k[1]):
                for gi in range(g):
                    contrib = np.einsum("nchw,cm->nmhw", x2[:, gi * cg:(gi + 1) * cg],
                                        w2[gi * cg:(gi + 1) * cg, :, ky, kx])
                    y[:, gi * mg:(gi + 1) * mg, ky * d[0]: ky * d[0] + s[0] * (ih - 1) + 1: s[0],
                      kx * d[1]: kx * d[1] + s[1] * (iw - 1) + 1: s[1]] += contrib
        y = y[:, :, p[0]:p[0] + out[0], p[1]:p[1] + out[1]]
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
        y = y.astype(x.dtype).reshape((n, g * mg, *a["output_size"]))
        return [apply_activation(a.get("activation"), y)]

    def macs(self, node, graph):
        x = graph.tensors[node.inputs[0]]
        w = graph.tensors[node.inputs[1]]
        return int(np.prod(x.shape)) * int(np.prod(w.shape[1:]))

    def c_kernel(self, node, graph, ctx):
        w, y = graph.tensors[node.inputs[1]], graph.tensors[node.outputs[0]]
        args = window_kernel_args(node, graph, ctx)
        args.update({"m": y.shape[1], "mg": w.shape[1]})
        return CKernel("conv_transpose2d", args)

    def relax(self, node, bb, args, graph):
        """The unpadded transposed convolution, then its window [pad begin, pad begin + output
        size): cropped where it lies inside, zeros where output_shape/output_padding reach past it."""
        from ..codegen.relax import op

        x, w, k, s, d, p = relax_window_2d(node, graph, args)
        x_shape = graph.tensors[node.inputs[0]].shape
        ins = list(x_shape[2:]) if len(x_shape) == 4 else [1, x_shape[2]]
        out = list(graph.tensors[node.outputs[0]].shape[2:])
        out = out if len(out) == 2 else [1] + out
        full = [s[i] * (ins[i] - 1) + (k[i] - 1) * d[i] + 1 for i in range(2)]
        begin = p[:2]
        end = [min(begin[i] + out[i], full[i]) for i in range(2)]
        y = op.nn.conv2d_transpose(x, w, strides=s, dilation=d, groups=node.attrs["group"])
        if begin != [0, 0] or end != full:
            y = op.strided_slice(y, axes=[2, 3], begin=begin, end=end)
        extra = [begin[i] + out[i] - end[i] for i in range(2)]
        if any(extra):
            y = op.nn.pad(y, [0, 0, 0, 0, 0, extra[0], 0, extra[1]])
        return relax_bias_act(node, graph, args, y)
