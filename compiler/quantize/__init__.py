"""int8 post-training quantization (TFLite/TFLM scheme): fixed-point arithmetic, calibration,
and the rewrite of a float Graph into integer ops."""
