"""Every ONNX node test for an op convc claims runs through the oracle and the C target."""
import pytest

from node_test_exclusions import EXCLUDED
from onnx_cases import check_case, claimed_node_cases, node_cases


@pytest.mark.parametrize("name", claimed_node_cases(EXCLUDED))
def test_node(name, tmp_path):
    model, data_sets, rtol, atol = node_cases()[name]
    check_case(model, data_sets, rtol, atol, tmp=str(tmp_path))
