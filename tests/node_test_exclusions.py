"""ONNX node tests for claimed ops that convc does not pass, each with the reason.
The README's support table is generated from this list. Sections per op family."""

EXCLUDED: dict[str, str] = {}

# --- activations / element-wise ---------------------------------------------
EXCLUDED.update({
})

# --- conv / gemm / batchnorm ---------------------------------------------------
EXCLUDED.update({
    "test_batchnorm_epsilon_training_mode": "training-mode BatchNormalization (batch statistics) is not an inference op",
    "test_batchnorm_example_training_mode": "training-mode BatchNormalization (batch statistics) is not an inference op",
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
    "test_identity_opt": "optional types are not supported (tensors only)",
    "test_identity_sequence": "sequence types are not supported (tensors only)",
    "test_training_dropout": "training-mode Dropout (random masks) is not an inference op",
    "test_training_dropout_default": "training-mode Dropout (random masks) is not an inference op",
    "test_training_dropout_default_mask": "training-mode Dropout (random masks) is not an inference op",
    "test_training_dropout_mask": "training-mode Dropout (random masks) is not an inference op",
    "test_training_dropout_zero_ratio": "training_mode is a graph input (decided at run time); convc compiles inference only",
    "test_training_dropout_zero_ratio_mask": "training_mode is a graph input (decided at run time); convc compiles inference only",
    "test_castlike_DOUBLE_to_FLOAT_expanded": "declares input 'like' with a dynamic dimension (needs --input-shape)",
    "test_castlike_FLOAT_to_DOUBLE_expanded": "declares input 'like' with a dynamic dimension (needs --input-shape)",
})
