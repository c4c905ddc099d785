"""ONNX node tests for claimed ops that convc does not pass, each with the reason.
The README's support table is generated from this list. Sections per op family."""

EXCLUDED: dict[str, str] = {}

# Cases whose structural inputs (target shape, axes) are graph inputs: convc compiles static
# shapes, so these run in tests/test_onnx_node.py with those inputs frozen into initializers.
RUNTIME_SHAPE = "the target shape / axes / pads / split sizes are a run-time graph input; convc compiles static shapes (constants after folding)"

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
    "test_averagepool_3d_default": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_averagepool_3d_dilations_small": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_maxpool_3d_default": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_maxpool_3d_dilations": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_maxpool_3d_dilations_use_ref_impl": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_maxpool_3d_dilations_use_ref_impl_large": "3-D pooling is not supported (1-D and 2-D are): refused with a clear error",
    "test_maxpool_with_argmax_2d_precomputed_pads": "MaxPool's Indices output is not supported: refused with a clear error",
    "test_maxpool_with_argmax_2d_precomputed_strides": "MaxPool's Indices output is not supported: refused with a clear error",
})

# --- shape and data movement (reshape, concat, split, slice, transpose) -----
EXCLUDED.update({
    "test_split_variable_parts_1d_opset13": RUNTIME_SHAPE,
    "test_split_variable_parts_1d_opset18": RUNTIME_SHAPE,
    "test_split_variable_parts_2d_opset13": RUNTIME_SHAPE,
    "test_split_variable_parts_2d_opset18": RUNTIME_SHAPE,
    "test_split_variable_parts_default_axis_opset13": RUNTIME_SHAPE,
    "test_split_variable_parts_default_axis_opset18": RUNTIME_SHAPE,
    "test_split_zero_size_splits_opset13": "zero-sized outputs; empty tensors are not supported",
    "test_split_zero_size_splits_opset18": "zero-sized outputs; empty tensors are not supported",
    "test_reshape_allowzero_reordered": "input has a zero-sized dimension; empty tensors are not supported",
    "test_reshape_extended_dims": RUNTIME_SHAPE,
    "test_reshape_negative_dim": RUNTIME_SHAPE,
    "test_reshape_negative_extended_dims": RUNTIME_SHAPE,
    "test_reshape_one_dim": RUNTIME_SHAPE,
    "test_reshape_reduced_dims": RUNTIME_SHAPE,
    "test_reshape_reordered_all_dims": RUNTIME_SHAPE,
    "test_reshape_reordered_last_dims": RUNTIME_SHAPE,
    "test_reshape_zero_and_negative_dim": RUNTIME_SHAPE,
    "test_reshape_zero_dim": RUNTIME_SHAPE,
    "test_squeeze": RUNTIME_SHAPE,
    "test_squeeze_negative_axes": RUNTIME_SHAPE,
    "test_unsqueeze_axis_0": RUNTIME_SHAPE,
    "test_unsqueeze_axis_1": RUNTIME_SHAPE,
    "test_unsqueeze_axis_2": RUNTIME_SHAPE,
    "test_unsqueeze_negative_axes": RUNTIME_SHAPE,
    "test_unsqueeze_three_axes": RUNTIME_SHAPE,
    "test_unsqueeze_two_axes": RUNTIME_SHAPE,
    "test_unsqueeze_unsorted_axes": RUNTIME_SHAPE,
})

# --- pad / resize ---------------------------------------------------------------
EXCLUDED.update({
    "test_constant_pad": RUNTIME_SHAPE,
    "test_constant_pad_axes": RUNTIME_SHAPE,
    "test_constant_pad_negative_axes": RUNTIME_SHAPE,
    "test_edge_pad": RUNTIME_SHAPE,
    "test_reflect_pad": RUNTIME_SHAPE,
    "test_wrap_pad": RUNTIME_SHAPE,
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
