"""The arena planner: live tensors never overlap, reuse beats the no-reuse sum, in-place and
alias rules hold, and the generated C gives the oracle's numbers with that plan."""
import numpy as np
from onnx import helper as h

from convc.compiler.frontend.onnx import import_model
from convc.compiler.memory import plan_memory
from convc.compiler.passes import run_passes
from models import const, make, vi


def chain(n_layers=6, width=64):
    rng = np.random.default_rng(0)
    nodes, inits, cur = [], [], "x"
    for k in range(n_layers):
        inits += [const(f"w{k}", rng.standard_normal((width, width)).astype(np.float32) * 0.1)]
        nodes += [h.make_node("Gemm", [cur, f"w{k}"], [f"g{k}"], name=f"fc{k}"),
                  h.make_node("Sigmoid", [f"g{k}"], [f"s{k}"], name=f"sig{k}")]
        cur = f"s{k}"
    nodes += [h.make_node("Add", [cur, "s0"], ["y"], name="skip")]  # s0 stays live to the end
    return make(nodes, [vi("x", [1, width])], [vi("y", [1, width])], inits)


def _check_no_overlap(graph, plan):
    index = {o: k for k, n in enumerate(graph.nodes) for o in n.outputs}
    last = {}
    for k, n in enumerate(graph.nodes):
        for i in n.inputs:
            last[i] = k
    for b in plan.buffers:
        assert b.offset % 16 == 0 and b.offset + b.size <= plan.arena_size
    for a in plan.buffers:
        for b in plan.buffers:
            if a is b:
                continue
            live = a.first <= b.last and b.first <= a.last
            disjoint = a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
            assert not live or disjoint, (a, b)
    return index, last


def test_plan_reuses_and_never_overlaps_live_tensors():
    g = run_passes(import_model(chain()))
    plan = plan_memory(g)
    _check_no_overlap(g, plan)
    # 12 intermediate tensors of 256 B; sigmoid runs in place, s0 is live to the end:
    # at most three 256-byte buffers are ever live at once
    assert plan.activations_total == 12 * 256
    assert plan.arena_size <= 3 * 256


def test_inplace_only_when_input_dies_here():
    g = run_passes(import_model(chain()))
    plan = plan_memory(g)
    by_tensor = {t: b for b in plan.buffers for t in b.tensors}
    assert by_tensor["s1"] is by_tensor["g1"]  # g1 dies at sig1: sigmoid overwrites it
    assert by_tensor["s0"] is by_tensor["g0"]
    assert by_tensor["g1"] is not by_tensor["s0"]  # s0 is read by 'skip' later


def test_generated_c_with_planned_arena_matches_oracle(tmp_path):
    from convc.compiler import reference
    from convc.compiler.codegen.c import generate_c
    from convc.compiler.output import write_dir
    from convc.runtime.host import HostModel

    g = run_passes(import_model(chain()))
    m = HostModel(write_dir(tmp_path / "c", generate_c(g).files))
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 64)).astype(np.float32)
        np.testing.assert_allclose(m.run({"x": x})["y"], reference.run(g, {"x": x})["y"], rtol=1e-5, atol=1e-6)
