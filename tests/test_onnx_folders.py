"""The pytorch-converted / pytorch-operator / simple model folders shipped in the onnx wheel:
every model whose ops convc claims runs through the oracle and the C target."""
import pytest

from convc.compiler.frontend.onnx import MIN_OPSET
from convc.compiler.ops.registry import onnx_op_types
from node_test_exclusions import EXCLUDED, RUNTIME_SHAPE
from onnx_cases import check_case, folder_cases, freeze_inputs, kept_inputs, load_folder_case


def _claimed(kind):
    ours = set(onnx_op_types())
    out = []
    for name in folder_cases(kind):
        model, _ = load_folder_case(kind, name)
        opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset < MIN_OPSET:  # older files are refused (tested in test_frontend)
            continue
        if {n.op_type for n in model.graph.node} <= ours and f"{kind}/{name}" not in EXCLUDED:
            out.append(f"{kind}/{name}")
    return out


CASES = _claimed("pytorch-converted") + _claimed("pytorch-operator") + _claimed("simple")


@pytest.mark.parametrize("case", CASES)
def test_folder_case(case, tmp_path):
    kind, name = case.split("/")
    model, data_sets = load_folder_case(kind, name)
    check_case(model, data_sets, rtol=1e-3, atol=1e-5, tmp=str(tmp_path))


@pytest.mark.parametrize("case", sorted(k for k, v in EXCLUDED.items() if v == RUNTIME_SHAPE and "/" in k))
def test_folder_case_with_static_shape_inputs(case, tmp_path):
    kind, name = case.split("/")
    model, data_sets = load_folder_case(kind, name)
    for k, (ins, outs) in enumerate(data_sets):
        check_case(freeze_inputs(model, ins), [(ins[:kept_inputs(model)], outs)], rtol=1e-3, atol=1e-5,
                   tmp=str(tmp_path / str(k)))
