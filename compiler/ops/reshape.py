"""Reshape, Flatten, Squeeze, Unsqueeze: all become IR `Reshape` with the final static `shape`.
The planner aliases the output onto the input's bytes (no code); a copy kernel remains for when
it cannot (graph inputs and outputs live in the caller's buffers)."""
from __future__ import annotations

import numpy as np

from .common import norm_axis
from .registry import CKernel, OpDef, register


def _reshape_target(in_shape, shape, allowzero: bool) -> tuple[int, ...]:
    out = [in_shape[i] if (d == 0 and not allowzero) else int(d) for i, d in enumerate(shape)]
    if out.count(-1) > 1:
        raise ValueError("more than one -1 in the target shape")
    total = int(np.prod(in_shape, dtype=np.int64))
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1], dtype=np.int64))
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {list(in_shape)} to {list(shape)}")
        out[out.index(-1)] = total // known
    if int(np.prod(out, dtype=np.int64)) != total:
        raise ValueError(f"cannot reshape {list(in_shape)} to {list(shape)}")
    return tuple(out)


@register
class Reshape(OpDef):
    name = "Reshape"
    onnx_types = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
    alias = True

    def import_onnx(self, ctx, node):
        x = ctx.tensor(node.input[0])
        a = ctx.attrs(node)
        r = len(x.shape)
        if node.op_type == "Reshape":
            shape = a["shape"] if ctx.opset < 5 else ctx.require_const(node, 1, "shape")
            target = _reshape_target(x.shape, [int(d) for d in shape], bool(a.get("allowzero", 0)))
        elif node.op_type == "Flatten":
            axis = int(a.get("axis", 1))
            axis = axis + r if axis < 0 else axis
            if not 0 <= axis <= r:
                raise ctx.unsupported(node, f"axis {axis} out of range for rank {r}")
            target = (int(np.prod(x.shape[:axis], dtype=np.int64)), int(np.prod(x.shape[axis:], dtype=np.int64)))
        else:
            axes = a.get("axes") if ctx.opset < 13 else ctx.require_const(node, 1, "axes")
            if node.op_type == "Squeeze":
                if axes is None:
                    axes = [i for i, d in enumerate(x.shape) if d == 1]
                axes = {norm_axis(int(v), r) for v in axes}
                if any(x.shape[i] != 1 for i in axes):
                    raise ctx.unsupported(node, f"cannot squeeze a dimension that is not 1 ({list(x.shape)})")
                target = tuple(d for i, d in enumerate(x.shape) if i not in axes)
            else:
                out_r = r + len(axes)
                axes = sorted(norm_axis(int(v), out_r) for v in axes)
                it = iter(x.shape)
                target = tuple(1 if i in axes else next(it) for i in range(out_r))
        ctx.emit("Reshape", [node.input[0]], [node.output[0]], {"shape": [int(d) for d in target]}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        shape = tuple(node.attrs["shape"])
        if int(np.prod(shape, dtype=np.int64)) != x.size:
            raise ValueError(f"cannot reshape {list(x.shape)} to {list(shape)}")
        return [(shape, x.dtype)]

    def reference(self, node, inputs):
        return [inputs[0].reshape(node.attrs["shape"])]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.reshape(args[0], node.attrs["shape"])

    def c_kernel(self, node, graph, ctx):
        return CKernel("loop", {"dims": [graph.tensors[node.inputs[0]].size], "body": "y0[i0] = x0[i0];"})
