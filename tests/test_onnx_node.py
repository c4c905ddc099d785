"""Every ONNX node test for an op convc claims runs through the oracle and the C target."""
import pytest

from node_test_exclusions import EXCLUDED, RUNTIME_SHAPE
from onnx_cases import check_case, claimed_node_cases, freeze_inputs, kept_inputs, node_cases


@pytest.mark.parametrize("name", claimed_node_cases(EXCLUDED))
def test_node(name, tmp_path):
    model, data_sets, rtol, atol = node_cases()[name]
    check_case(model, data_sets, rtol, atol, tmp=str(tmp_path))


@pytest.mark.parametrize("name", sorted(k for k, v in EXCLUDED.items() if v == RUNTIME_SHAPE and "/" not in k))
def test_node_with_static_shape_inputs(name, tmp_path):
    model, data_sets, rtol, atol = node_cases()[name]
    for k, (ins, outs) in enumerate(data_sets):
        check_case(freeze_inputs(model, ins), [(ins[:kept_inputs(model)], outs)], rtol, atol, tmp=str(tmp_path / str(k)))
