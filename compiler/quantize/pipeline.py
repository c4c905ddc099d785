"""Entry points for the CLI and the harness: calibrate from a file and rewrite, and the int8 report
pieces (per-layer SQNR of the integer oracle against the float oracle)."""
from __future__ import annotations

import math

import numpy as np

from .. import reference
from ..errors import UsageError
from ..ir import Graph
from .calibrate import METHODS, load_calibration
from .qdq import has_imported_qparams
from .rewrite import QuantizeResult, act_qparams, quantize_graph

SCHEMES = ("int8",)


def quantize_model(graph: Graph, scheme: str, calib: str | None, method: str = "minmax") -> QuantizeResult:
    if scheme not in SCHEMES:
        raise UsageError(f"--quantize {scheme}: supported schemes are {', '.join(SCHEMES)}")
    if method not in METHODS:
        raise UsageError(f"--calib-method {method}: choose from {', '.join(METHODS)}")
    if not calib and has_imported_qparams(graph):  # a QDQ model: its own scales, nothing to calibrate
        return quantize_graph(graph, None)
    if not calib:
        raise UsageError("--quantize int8 needs --calib FILE.npz (or a folder of <input>.npy): "
                         "representative inputs to calibrate activation ranges")
    arrays, warns = load_calibration(calib, graph)
    res = quantize_graph(graph, arrays, method)
    res.calibration.warnings.extend(warns)
    return res


def layer_sqnr(res: QuantizeResult, feeds: list[dict[str, np.ndarray]]) -> list[dict]:
    """Per int8 activation: SQNR (dB) of the dequantized integer-oracle value against the float
    oracle's value of the tensor it stands for, over `feeds`."""
    q, g = res.graph, res.source
    producers = q.producers()
    names = [t for n in q.nodes for t in n.outputs if t in res.tensor_map]
    sig = {t: 0.0 for t in names}
    err = {t: 0.0 for t in names}
    for feed in feeds:
        envq = reference.run(q, feed, keep_all=True)
        envf = reference.run(g, feed, keep_all=True)
        for t in names:
            qp = q.tensors[t].quant
            deq = (envq[t].astype(np.float64) - float(qp.zero_point[0])) * float(qp.scale[0])
            ref = np.asarray(envf[res.tensor_map[t]], np.float64)
            sig[t] += float(np.sum(ref * ref))
            err[t] += float(np.sum((deq - ref) ** 2))
    out = []
    for t in names:
        s = 10 * math.log10(sig[t] / err[t]) if err[t] > 0 and sig[t] > 0 else (math.inf if err[t] == 0 else -math.inf)
        qp = q.tensors[t].quant
        entry = {"name": res.tensor_map[t], "op": producers[t].op, "layer": producers[t].name, "sqnr_db": s,
                 "scale": float(qp.scale[0]), "zero_point": int(qp.zero_point[0])}
        rng = res.calibration.ranges.get(res.tensor_map[t])
        if rng is not None and act_qparams(*rng) == (entry["scale"], entry["zero_point"]):
            entry["range"] = [float(rng[0]), float(rng[1])]  # calibration's choice, that set these parameters
        out.append(entry)
    return out


def int8_report(res: QuantizeResult, feeds: list[dict[str, np.ndarray]], max_samples: int = 32) -> dict:
    """The keys `validate` adds for an int8 build."""
    cal = res.calibration
    rep = {"calibration": {"method": cal.method, "samples": cal.samples, "warnings": list(cal.warnings)},
           "int8_layers": res.int8_layers, "float_layers": list(res.float_layers)}
    if cal.method != "imported":  # a QDQ model has no float counterpart of its int8 activations to compare
        rep["layers"] = layer_sqnr(res, feeds[:max_samples])
    return rep
