"""ONNX → convc Graph.

Loading is defensive (see DESIGN.md): the protobuf is parsed without external data, every
external-data reference is checked to stay inside the model's folder (no `..`, no absolute
paths, no symlinks), tensor sizes are checked against the declared dims, and only then is
external data read. Input shapes are fixed (from the model or `--input-shape`), every node
is imported through its op's `import_onnx`, and nodes whose inputs are all constant are
evaluated at import time with the oracle - this folds the Shape/Gather/Concat/... chains
that PyTorch and Paddle exports feed into Reshape once shapes are static.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ModelError, UnsupportedError, UsageError
from ..ir import Graph, Node, Tensor
from ..ops.registry import get_op, onnx_op

MAX_TENSOR_BYTES = 2 << 30  # refuse absurd tensors (2 GiB)
MIN_OPSET, MAX_OPSET = 6, onnx.defs.onnx_opset_version()

_ONNX_DTYPES = {
    onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64",
    onnx.TensorProto.INT8: "int8", onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.INT16: "int16", onnx.TensorProto.UINT16: "uint16",
    onnx.TensorProto.INT32: "int32", onnx.TensorProto.UINT32: "uint32",
    onnx.TensorProto.INT64: "int64", onnx.TensorProto.UINT64: "uint64",
    onnx.TensorProto.BOOL: "bool",
}


def onnx_dtype(elem_type: int, where: str) -> str:
    try:
        return _ONNX_DTYPES[elem_type]
    except KeyError:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() else str(elem_type)
        raise UnsupportedError(f"{where}: element type {name} is not supported") from None


def parse_input_shapes(specs: list[str] | None) -> dict[str, tuple[int, ...]]:
    """`NAME=1,3,224,224` (repeatable) → {NAME: (1,3,224,224)}."""
    out: dict[str, tuple[int, ...]] = {}
    for spec in specs or []:
        name, sep, dims = spec.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape or any(d <= 0 for d in shape):
            raise UsageError(f"--input-shape '{spec}': expected NAME=D0,D1,... with positive integers")
        out[name] = shape
    return out


# ---------------------------------------------------------------------------
# loading


def _check_external_data(model: onnx.ModelProto, base: Path) -> None:
    base_real = base.resolve()
    for t in _all_tensors(model):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        p = Path(loc)
        if not loc or p.is_absolute() or ".." in p.parts or loc.startswith(("/", "\\")) or ":" in loc:
            raise ModelError(f"tensor '{t.name}': external data path '{loc}' leaves the model's folder; refused")
        full = base / p
        # no symlinks anywhere on the way
        cur = base
        for part in p.parts:
            cur = cur / part
            if cur.is_symlink():
                raise ModelError(f"tensor '{t.name}': external data path '{loc}' goes through a symlink; refused")
        if not full.resolve().is_relative_to(base_real):
            raise ModelError(f"tensor '{t.name}': external data path '{loc}' leaves the model's folder; refused")
        if not full.is_file():
            raise ModelError(f"tensor '{t.name}': external data file '{loc}' not found next to the model")
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if "length" in info else full.stat().st_size - offset
        expected = _declared_bytes(t)
        if offset < 0 or length < 0 or offset + length > full.stat().st_size:
            raise ModelError(f"tensor '{t.name}': external data range exceeds file '{loc}'")
        if expected is not None and length != expected:
            raise ModelError(f"tensor '{t.name}': external data holds {length} bytes, dims need {expected}")


def _declared_bytes(t: onnx.TensorProto) -> int | None:
    if t.data_type not in _ONNX_DTYPES or t.data_type == onnx.TensorProto.BOOL:
        return None
    n = 1
    for d in t.dims:
        if d < 0:
            raise ModelError(f"tensor '{t.name}': negative dimension {d}")
        n *= d
    nbytes = n * np.dtype(_ONNX_DTYPES[t.data_type]).itemsize
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelError(f"tensor '{t.name}': {nbytes} bytes declared; refusing tensors over {MAX_TENSOR_BYTES} bytes")
    return nbytes


def _all_tensors(model: onnx.ModelProto):
    def walk(g):
        yield from g.initializer
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    yield a.t
                elif a.type == onnx.AttributeProto.GRAPH:
                    yield from walk(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for sg in a.graphs:
                        yield from walk(sg)
    yield from walk(model.graph)


def load_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """Read an ONNX file defensively (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        raise ModelError(f"{path}: not a readable ONNX model ({type(e).__name__}: {str(e)[:200] or 'parse error'})") from None
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path}: not an ONNX model (no graph)")
    for t in _all_tensors(model):
        _declared_bytes(t)
    _check_external_data(model, path.parent)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(model)):
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
        except Exception as e:
            raise ModelError(f"{path}: cannot read external data ({e})") from None
    return model


# ---------------------------------------------------------------------------
# import


class ImportContext:
    """What an op's `import_onnx` sees."""

    def __init__(self, graph: Graph, opset: int):
        self.graph = graph
        self.opset = opset
        self._node_names: set[str] = set()

    # attributes -----------------------------------------------------------
    @staticmethod
    def attrs(node: onnx.NodeProto) -> dict:
        out = {}
        for a in node.attribute:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, list):
                v = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
            elif isinstance(v, onnx.TensorProto):
                v = numpy_helper.to_array(v)
            out[a.name] = v
        return out

    # tensors -------------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        return self.graph.tensors[name]

    def const(self, name: str) -> np.ndarray | None:
        return self.graph.const(name) if name else None

    def require_const(self, node: onnx.NodeProto, index: int, what: str) -> np.ndarray | None:
        """The value of optional input `index` (None if absent); error if it is computed at run time."""
        if index >= len(node.input) or not node.input[index]:
            return None
        v = self.const(node.input[index])
        if v is None:
            raise UnsupportedError(
                f"node '{node.name}' ({node.op_type}): input {index} ({what}) must be a constant "
                f"once input shapes are fixed; it is computed at run time")
        return v

    def add_const(self, name: str, data: np.ndarray) -> str:
        return self.graph.add_const(name, data).name

    def fresh(self, base: str) -> str:
        return self.graph.unique_name(base)

    def unsupported(self, node: onnx.NodeProto, why: str) -> UnsupportedError:
        return UnsupportedError(f"node '{node.name}' ({node.op_type}): {why}")

    # nodes ---------------------------------------------------------------
    def emit(self, op: str, inputs: list[str], outputs: list[str], attrs: dict | None = None,
             node: onnx.NodeProto | None = None, name: str | None = None) -> Node:
        """Add an IR node (running shape inference), or fold it when every input is constant."""
        g = self.graph
        base = name or (node.name if node is not None and node.name else f"{op}_{len(g.nodes)}")
        nname = base
        while nname in self._node_names:
            nname = g.unique_name(base)
        self._node_names.add(nname)
        n = Node(nname, op, list(inputs), list(outputs), dict(attrs or {}))
        opdef = get_op(op)
        ins = []
        for i in n.inputs:
            if i and i not in g.tensors:
                raise ModelError(f"node '{nname}' ({op}): input '{i}' is not defined")
            ins.append(g.tensors[i] if i else None)
        where = f"node '{nname}' ({node.op_type if node is not None else op})"
        try:
            types = opdef.infer(n, ins)
        except (UnsupportedError, ModelError) as e:
            if str(e).startswith("node '"):
                raise
            raise type(e)(f"{where}: {e}") from None
        except (ValueError, IndexError, KeyError, TypeError) as e:
            raise ModelError(f"{where}: inconsistent with its inputs ({e})") from None
        for o, (shape, dtype) in zip(n.outputs, types):
            if o:
                if o in g.tensors:
                    raise ModelError(f"{where}: tensor '{o}' is produced twice")
                g.add_tensor(Tensor(o, tuple(int(d) for d in shape), dtype))
        if all(t is not None and t.is_const for t in ins if t is not None) and (ins or op == "Constant"):
            if any(t is not None for t in ins) or op == "Constant":
                vals = opdef.reference(n, [t.data if t is not None else None for t in ins])
                for o, v in zip(n.outputs, vals):
                    if o:
                        t = g.tensors[o]
                        t.data = np.asarray(v, dtype=t.dtype).reshape(t.shape)
                return n
        g.nodes.append(n)
        return n


def _value_shape(vi: onnx.ValueInfoProto) -> list[int | str | None]:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def import_model(model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]] | None = None,
                 name: str | None = None) -> Graph:
    input_shapes = dict(input_shapes or {})
    opset = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = imp.version
        elif imp.domain not in ("ai.onnx.ml",):
            pass  # custom domains: nodes in them are reported as unsupported
    if opset is None:
        opset = MAX_OPSET if not model.opset_import else MIN_OPSET
    if opset < MIN_OPSET or opset > MAX_OPSET:
        raise UnsupportedError(f"opset {opset} is outside the supported range {MIN_OPSET}..{MAX_OPSET}")

    g = model.graph
    # one error listing every unsupported node
    bad = [n for n in g.node if (n.domain not in ("", "ai.onnx")) or onnx_op(n.op_type) is None]
    if bad:
        listing = "; ".join(f"'{n.name or '<unnamed>'}' ({(n.domain + '.') if n.domain else ''}{n.op_type})" for n in bad)
        raise UnsupportedError(f"{len(bad)} unsupported node(s): {listing}")

    graph = Graph(name or g.name or "model")
    init_names = {t.name for t in g.initializer}
    for t in g.initializer:
        arr = numpy_helper.to_array(t)
        dt = onnx_dtype(t.data_type, f"initializer '{t.name}'")
        graph.add_tensor(Tensor(t.name, tuple(int(d) for d in arr.shape), dt, np.ascontiguousarray(arr.astype(dt))))
    real_inputs = [vi for vi in g.input if vi.name not in init_names]
    unknown = set(input_shapes) - {vi.name for vi in real_inputs}
    if unknown:
        raise UsageError(f"--input-shape names unknown input(s) {sorted(unknown)}; model inputs: "
                         f"{[vi.name for vi in real_inputs]}")
    for vi in real_inputs:
        if not vi.type.HasField("tensor_type"):
            raise UnsupportedError(f"input '{vi.name}': only tensor inputs are supported")
        dtype = onnx_dtype(vi.type.tensor_type.elem_type, f"input '{vi.name}'")
        declared = _value_shape(vi)
        if vi.name in input_shapes:
            shape = input_shapes[vi.name]
            if declared is not None and (len(declared) != len(shape) or any(
                    isinstance(d, int) and d > 0 and d != s for d, s in zip(declared, shape))):
                raise UsageError(f"--input-shape {vi.name}={','.join(map(str, shape))} contradicts "
                                 f"the model's declared shape {declared}")
        else:
            if declared is None:
                raise UsageError(f"input '{vi.name}' has no declared shape; pass --input-shape {vi.name}=D0,D1,...")
            for i, d in enumerate(declared):
                if d == 0:
                    raise UnsupportedError(f"input '{vi.name}' dimension {i} has size 0; empty tensors are not supported")
                if not isinstance(d, int) or d <= 0:
                    raise UsageError(
                        f"input '{vi.name}' dimension {i} is dynamic ('{d or '?'}'); fix it with "
                        f"--input-shape {vi.name}=" + ",".join(str(x) if isinstance(x, int) and x > 0 else "N" for x in declared))
            shape = tuple(declared)
        graph.add_tensor(Tensor(vi.name, tuple(shape), dtype))
        graph.inputs.append(vi.name)

    ctx = ImportContext(graph, opset)
    for node in g.node:
        onnx_op(node.op_type).import_onnx(ctx, node)
    for vo in g.output:
        if vo.name not in graph.tensors:
            raise ModelError(f"graph output '{vo.name}' is never produced")
        if vo.name in graph.inputs:
            raise UnsupportedError(f"graph output '{vo.name}' is a graph input (identity model)")
        graph.outputs.append(vo.name)
    _materialize_const_outputs(graph)
    return graph


def _materialize_const_outputs(graph: Graph) -> None:
    """An output that folded to a constant still has to be produced by the model: copy it."""
    for i, o in enumerate(graph.outputs):
        t = graph.tensors[o]
        if t.is_const:
            src = graph.add_const(o + "__value", t.data).name
            t.data = None
            graph.nodes.append(Node(graph.unique_name("const_output"), "Identity", [src], [o], {"keep": True}))


def load(path: str | os.PathLike, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """Load and import an ONNX file into a verified Graph."""
    model = load_onnx(path)
    graph = import_model(model, input_shapes, name=Path(path).stem)
    graph.verify()
    return graph
