"""The FPGA target's fixed-point machinery: formats (format.py), per-tensor assignment (assign.py),
per-op integer lowering and simulation (ops/, one module per op family; simulate.py), resources, validation and profiling."""
