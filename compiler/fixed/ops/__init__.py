"""Fixed-point semantics of the IR ops: one `FxOp` per op kind, registered by op name.

Each op lowers a node of the optimized float graph to a `Layer` — every integer the generated C
needs (quantized weights and biases, shifts, clamp bounds, reciprocal tables, geometry) — and
simulates that layer on int64 NumPy arrays. The simulator (`simulate.py`) and the HLS backend
(`codegen/hls.py`) both read the same `Layer`, so the C prints numbers the simulator used.

Arrays in the simulator carry one extra leading axis, the sample axis: a tensor [1, C, H, W]
is simulated as [S, 1, C, H, W].

Arithmetic, per layer kind (every value is an integer with a known number of fractional bits):
  Conv / ConvTranspose / Gemm / MatMul
                        acc = bias + Σ x·w at F_x + F_w fractional bits, in an accumulator sized
                        from bit growth: W_acc = max(I_x + I_w + ceil(log2 K), I_b) + 1 + F_acc
                        (cannot overflow); fused Relu / Clip act on acc; LeakyRelu multiplies
                        negative acc by alpha (16 fractional bits, round half up); then acc is
                        converted to the output format (its rounding and overflow modes).
  Add / Sub / Mul       (broadcasting; a constant operand takes the weight format) Add/Sub align both
                        operands exactly to max(F_a, F_b), Mul keeps F_a + F_b; then converted.
  PRelu                 x · slope below zero at F_x + F_s, x shifted exactly above; then converted.
  BatchNormalization    (left unfolded) x · a + c per channel, a at the weight format; then converted.
  Concat                each input converted to the output format.
  AveragePool /         sum of the window (exact), times round(2^R / n) with R = 16 + ceil(log2 n_max),
  GlobalAveragePool     converted from F_x + R fractional bits: the reciprocal's relative error is
                        below 2^-17, the final rounding is the output format's.
  MaxPool, GlobalMaxPool, Reshape, Transpose, Relu, Clip, LeakyRelu (unfused), Pad (constant):
                        the output keeps the input's format.
  Sigmoid, Tanh, HardSigmoid, HardSwish (unfused): a lookup table over the input format (tables.py).
  Softmax               an exp table on max − x, an exact sum, one rounded integer division (SoftmaxFx).
  Slice, Gather, Expand, Tile: a copy through a source-index table (movement.py); Split: copies.
  Resize (any mode, spatial axes): Σ taps · weights at 2·15 extra fractional bits, one rounding (ResizeFx).
  ReduceMean/Sum/Max/Min: exact sums / comparisons over index tables, Mean by reciprocal (ReduceFx).
"""
from .common import (Acc, FxOp, Layer, apply_activation, fx_op, fx_ops, get_fx,  # noqa: F401
                     lower_activation)

# one module per op family; importing a module registers its ops (common.get_fx loads them all)
MODULES = ("conv", "dense", "elementwise", "movement", "pool", "reduce", "resize", "tables")
