"""ONNX node tests for claimed ops that convc does not pass, each with the reason.
The README's support table is generated from this list. Sections per op family."""

EXCLUDED: dict[str, str] = {}

# --- activations / element-wise ---------------------------------------------
EXCLUDED.update({
})

# --- conv / gemm / batchnorm ---------------------------------------------------
EXCLUDED.update({
})

# --- pooling / softmax / reduce / lrn ------------------------------------------
EXCLUDED.update({
})

# --- shape and data movement (reshape, concat, split, slice, transpose) -----
EXCLUDED.update({
})

# --- pad / resize ---------------------------------------------------------------
EXCLUDED.update({
})

# --- misc (cast, constant, identity, dropout) ----------------------------------
EXCLUDED.update({
})
