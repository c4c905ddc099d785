"""Gemm: Y = act(alpha * A' @ B' + beta * C), with the ONNX transA/transB/alpha/beta attrs.
MatMul: numpy matmul semantics (1-D operands promoted, batch dims broadcast)."""
from __future__ import annotations

import numpy as np

from .activations import activation_expr, apply_activation, relax_activation
from .common import broadcast_shape, broadcast_strides, need_float
from .registry import CKernel, OpDef, register


@register
class Gemm(OpDef):
    name = "Gemm"
    onnx_types = ("Gemm",)

    def import_onnx(self, ctx, node):
        a = ctx.attrs(node)
        attrs = {"transA": int(a.get("transA", 0)), "transB": int(a.get("transB", 0)),
                 "alpha": float(a.get("alpha", 1.0)), "beta": float(a.get("beta", 1.0))}
        ctx.emit("Gemm", list(node.input[:3]), [node.output[0]], attrs, node=node)

    def _mnk(self, node, a_shape, b_shape):
        m, k = (a_shape[1], a_shape[0]) if node.attrs["transA"] else a_shape
        k2, n = (b_shape[1], b_shape[0]) if node.attrs["transB"] else b_shape
        if k != k2:
            raise ValueError(f"inner dimensions differ ({k} vs {k2})")
        return m, n, k

    def infer(self, node, inputs):
        a, b = inputs[0], inputs[1]
        need_float(node, a.dtype)
        if len(a.shape) != 2 or len(b.shape) != 2:
            raise ValueError("Gemm needs 2-D A and B")
        m, n, _ = self._mnk(node, a.shape, b.shape)
        if len(inputs) > 2 and inputs[2] is not None:
            np.broadcast_shapes(inputs[2].shape, (m, n))
        return [((m, n), a.dtype)]

    def reference(self, node, inputs):
        a, b = inputs[0], inputs[1]
        at = a.T if node.attrs["transA"] else a
        bt = b.T if node.attrs["transB"] else b
        dt = a.dtype.type
        y = dt(node.attrs["alpha"]) * (at @ bt)
        if len(inputs) > 2 and inputs[2] is not None:
            y = y + dt(node.attrs["beta"]) * inputs[2]
        return [apply_activation(node.attrs.get("activation"), y.astype(a.dtype))]

    def macs(self, node, graph):
        m, n, k = self._mnk(node, graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape)
        return m * n * k

    def c_kernel(self, node, graph, ctx):
        a, b = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        m, n, k = self._mnk(node, a.shape, b.shape)
        dt = a.dtype
        has_c = len(node.inputs) > 2 and bool(node.inputs[2])
        c_st = broadcast_strides(graph.tensors[node.inputs[2]].shape, (m, n)) if has_c else [0, 0]
        acc = "acc"
        alpha, beta = node.attrs["alpha"], node.attrs["beta"]
        value = acc if alpha == 1.0 else f"{ctx.literal(alpha, dt)} * {acc}"
        if has_c:
            c_term = f"x2[i * {c_st[0]} + j * {c_st[1]}]"
            value += f" + {c_term}" if beta == 1.0 else f" + {ctx.literal(beta, dt)} * {c_term}"
        args = {
            "m": m, "n": n, "k": k, "ctype": ctx.ctype(dt), "zero": ctx.literal(0, dt),
            "a_index": "p * %d + i" % m if node.attrs["transA"] else "i * %d + p" % k,
            "b_index": "j * %d + p" % k if node.attrs["transB"] else "p * %d + j" % n,
            "store": activation_expr(node.attrs.get("activation"), f"({value})", dt),
        }
        return CKernel("gemm", args)

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import const, op

        a, b = args[0], args[1]
        dt = graph.tensors[node.inputs[0]].dtype
        at = node.attrs
        y = op.matmul(op.permute_dims(a) if at["transA"] else a, op.permute_dims(b) if at["transB"] else b)
        if at["alpha"] != 1.0:
            y = op.multiply(y, const(at["alpha"], dt))
        if len(args) > 2 and args[2] is not None:
            y = op.add(y, args[2] if at["beta"] == 1.0 else op.multiply(args[2], const(at["beta"], dt)))
        return relax_activation(at.get("activation"), y, dt)


def matmul_dims(a_shape, b_shape):
    """(batch shape, M, N, K, output shape) for numpy matmul of these operand shapes."""
    if not a_shape or not b_shape:
        raise ValueError("MatMul operands must have rank >= 1")
    a2 = (1, *a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = (*b_shape, 1) if len(b_shape) == 1 else tuple(b_shape)
    m, k = a2[-2:]
    k2, n = b2[-2:]
    if k != k2:
        raise ValueError(f"inner dimensions differ ({k} vs {k2})")
    batch = broadcast_shape(a2[:-2], b2[:-2])
    out = list(batch) + ([m] if len(a_shape) > 1 else []) + ([n] if len(b_shape) > 1 else [])
    return batch, m, n, k, tuple(out), a2, b2


@register
class MatMul(OpDef):
    name = "MatMul"
    onnx_types = ("MatMul",)

    def infer(self, node, inputs):
        a, b = inputs[0], inputs[1]
        need_float(node, a.dtype)
        if a.dtype != b.dtype:
            raise ValueError(f"operand dtypes differ ({a.dtype}, {b.dtype})")
        return [(matmul_dims(a.shape, b.shape)[4], a.dtype)]

    def reference(self, node, inputs):
        return [np.matmul(inputs[0], inputs[1]).astype(inputs[0].dtype)]

    def relax(self, node, bb, args, graph):
        from ..codegen.relax import op

        return op.matmul(args[0], args[1])

    def macs(self, node, graph):
        batch, m, n, k, *_ = matmul_dims(graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape)
        return int(np.prod(batch, dtype=np.int64)) * m * n * k

    def c_kernel(self, node, graph, ctx):
        a, b = graph.tensors[node.inputs[0]], graph.tensors[node.inputs[1]]
        batch, m, n, k, _, a2, b2 = matmul_dims(a.shape, b.shape)
        nb = int(np.prod(batch, dtype=np.int64))
        offs = {}
        for key, full, mat in (("a", a2, m * k), ("b", b2, k * n)):
            st = [s * mat for s in broadcast_strides(full[:-2], batch)]
            idx = np.zeros(batch, np.int64) if batch else np.zeros((), np.int64)
            for d, s in enumerate(st):
                idx = idx + (np.arange(batch[d]) * s).reshape([-1 if j == d else 1 for j in range(len(batch))])
            flat = np.ravel(idx)
            if nb == 1:
                offs[key] = str(int(flat[0]))
            elif np.array_equal(flat, np.arange(nb) * mat):
                offs[key] = f"bi * {mat}"
            else:
                offs[key] = f"{ctx.add_table(f'{node.name}_{key}off', flat.astype(np.int32), 'int32')}[bi]"
        args = {"batch": nb, "m": m, "n": n, "k": k, "mn": m * n, "ctype": ctx.ctype(a.dtype), "zero": ctx.literal(0, a.dtype),
                "a_offset": offs["a"], "b_offset": offs["b"]}
        return CKernel("matmul", args)
