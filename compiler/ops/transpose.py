"""Transpose (any dtype): a loop nest over the output reading the input through permuted strides."""
from __future__ import annotations

from .common import coalesce, index_expr, strides
from .registry import CKernel, OpDef, register


@register
class Transpose(OpDef):
    name = "Transpose"
    onnx_types = ("Transpose",)

    def import_onnx(self, ctx, node):
        r = len(ctx.tensor(node.input[0]).shape)
        perm = [int(p) for p in ctx.attrs(node).get("perm", list(range(r))[::-1])]
        if sorted(perm) != list(range(r)):
            raise ctx.unsupported(node, f"perm {perm} is not a permutation of {r} axes")
        ctx.emit("Transpose", [node.input[0]], [node.output[0]], {"perm": perm}, node=node)

    def infer(self, node, inputs):
        x = inputs[0]
        return [(tuple(x.shape[p] for p in node.attrs["perm"]), x.dtype)]

    def reference(self, node, inputs):
        return [inputs[0].transpose(node.attrs["perm"]).copy()]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.permute_dims(args[0], node.attrs["perm"])

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        perm = node.attrs["perm"]
        out_shape = tuple(x.shape[p] for p in perm)
        ist = strides(x.shape)
        dims, (ost, pst) = coalesce(out_shape, [strides(out_shape), [ist[p] for p in perm]])
        body = f"y0[{index_expr('i', ost)}] = x0[{index_expr('i', pst)}];"
        return CKernel("loop", {"dims": dims, "body": body})
