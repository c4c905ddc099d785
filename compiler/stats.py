"""Per-layer statistics for `convc inspect` and reports."""
from __future__ import annotations

from .ir import Graph
from .memory import plan_memory
from .ops.registry import get_op


def graph_macs(graph: Graph) -> int:
    return sum(int(get_op(n.op).macs(n, graph)) for n in graph.nodes)


def layer_table(graph: Graph) -> dict:
    plan = plan_memory(graph)
    layers = []
    for n in graph.nodes:
        params = sum(graph.tensors[i].size for i in n.inputs if i and graph.tensors[i].is_const)
        outs = [graph.tensors[o] for o in n.outputs if o]
        layers.append({
            "name": n.name, "op": n.op + (f"+{n.attrs['activation']['op']}" if n.attrs.get("activation") else ""),
            "output_shape": [list(t.shape) for t in outs],
            "params": int(params), "macs": int(get_op(n.op).macs(n, graph)),
            "activation_bytes": int(sum(t.nbytes for t in outs)),
        })
    const_used = {i for n in graph.nodes for i in n.inputs if i and graph.tensors[i].is_const}
    return {
        "model": graph.name,
        "inputs": [{"name": i, "shape": list(graph.tensors[i].shape), "dtype": graph.tensors[i].dtype} for i in graph.inputs],
        "outputs": [{"name": o, "shape": list(graph.tensors[o].shape), "dtype": graph.tensors[o].dtype} for o in graph.outputs],
        "layers": layers,
        "totals": {"params": sum(graph.tensors[c].size for c in const_used),
                   "weights_bytes": sum(graph.tensors[c].nbytes for c in const_used),
                   "macs": sum(layer["macs"] for layer in layers),
                   "activations_bytes": plan.activations_total,
                   "arena_bytes": plan.arena_size},
    }


def format_table(info: dict) -> str:
    rows = [("layer", "op", "output shape", "params", "MACs", "act bytes")]
    for layer in info["layers"]:
        shape = " ".join("x".join(map(str, s)) for s in layer["output_shape"])
        rows.append((layer["name"][:32], layer["op"], shape, str(layer["params"]), str(layer["macs"]), str(layer["activation_bytes"])))
    t = info["totals"]
    rows.append(("total", "", "", str(t["params"]), str(t["macs"]), str(t["activations_bytes"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0 or k == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    out.append(f"inputs: " + ", ".join(f"{i['name']} {i['dtype']}[{','.join(map(str, i['shape']))}]" for i in info["inputs"]))
    out.append(f"weights: {t['weights_bytes']} bytes; planned arena (peak): {t['arena_bytes']} bytes "
               f"(sum of all activations: {t['activations_bytes']} bytes)")
    return "\n".join(out)
