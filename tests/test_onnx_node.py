"""Every ONNX node test for an op convc claims runs through the oracle and the C target."""
import onnx
import pytest
from onnx import numpy_helper

from node_test_exclusions import EXCLUDED, RUNTIME_SHAPE
from onnx_cases import _array, check_case, claimed_node_cases, node_cases


@pytest.mark.parametrize("name", claimed_node_cases(EXCLUDED))
def test_node(name, tmp_path):
    model, data_sets, rtol, atol = node_cases()[name]
    check_case(model, data_sets, rtol, atol, tmp=str(tmp_path))


def freeze_inputs(model: onnx.ModelProto, values) -> onnx.ModelProto:
    """Turn every graph input after the first into an initializer holding `values[i]`."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inputs = list(m.graph.input)
    del m.graph.input[1:]
    for vi, v in zip(inputs[1:], values[1:]):
        m.graph.initializer.append(numpy_helper.from_array(_array(v), vi.name))
    return m


@pytest.mark.parametrize("name", sorted(k for k, v in EXCLUDED.items() if v == RUNTIME_SHAPE))
def test_node_with_static_shape_inputs(name, tmp_path):
    model, data_sets, rtol, atol = node_cases()[name]
    for k, (ins, outs) in enumerate(data_sets):
        check_case(freeze_inputs(model, ins), [(ins[:1], outs)], rtol, atol, tmp=str(tmp_path / str(k)))
