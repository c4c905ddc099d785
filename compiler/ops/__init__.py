"""IR ops, one module per op family; the registry imports them on first use."""

ALL_MODULES = ("activations", "elementwise", "misc", "gemm", "batchnorm", "conv", "reshape", "pool", "concat", "softmax", "transpose", "pad",
               "reduce", "lrn", "slice", "shape", "expand", "gather", "compare", "unary", "resize",
               # int8 (compiler/quantize rewrites float graphs into these)
               "quantize_linear", "qconv", "qgemm", "qadd", "qmul", "qpool", "qlut", "qrequantize", "qsoftmax", "qlinear")
