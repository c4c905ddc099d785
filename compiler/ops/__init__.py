"""IR ops, one module per op family; the registry imports them on first use."""

ALL_MODULES = (
    "activations", "elementwise", "misc",
    "conv", "gemm", "batchnorm",
    "pool", "softmax", "reduce", "lrn",
    "reshape", "concat", "slice", "transpose", "shape",
    "pad", "resize",
)
