"""QLut: an int8 → int8 function as a 256-entry table computed at compile time (Sigmoid, Tanh,
HardSigmoid, HardSwish, LeakyRelu, and Relu/Clip that are not fused into a producer).
attrs: table — int8[256], entry i is the output for input i − 128."""
from __future__ import annotations

import numpy as np

from .registry import CKernel, OpDef, register


@register
class QLut(OpDef):
    name = "QLut"
    inplace = True

    def infer(self, node, inputs):
        if inputs[0].dtype != "int8" or np.asarray(node.attrs["table"]).shape != (256,):
            raise ValueError("QLut maps int8 through a 256-entry table")
        return [(inputs[0].shape, "int8")]

    def reference(self, node, inputs):
        table = np.asarray(node.attrs["table"], np.int8)
        return [table[inputs[0].astype(np.int32) + 128]]

    def c_kernel(self, node, graph, ctx):
        x = graph.tensors[node.inputs[0]]
        tab = ctx.add_table(node.name + "_lut", np.asarray(node.attrs["table"], np.int8), "int8")
        return CKernel("loop", {"dims": [x.size], "body": f"y0[i0] = {tab}[(int32_t)x0[i0] + 128];"})
