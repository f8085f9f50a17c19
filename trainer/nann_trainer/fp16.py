"""Converts an exported fp32 ONNX file to half precision, keeping fp32 inputs and outputs.

Weights, constants and every intermediate float tensor become float16; a Cast after each float
input and before each float output keeps the file's interface fp32, so nann's model contract (and
the Java side) does not change. On the CUDA execution provider the matmuls then run in fp16; on the
CPU provider ONNX Runtime inserts casts around kernels it lacks in fp16 (correct, not faster).

PyTorch from Debian (1.13) cannot run half-precision matmuls on the CPU, so the conversion is done on
the ONNX graph after export rather than with ``module.half()`` before it.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
FLOAT16 = TensorProto.FLOAT16


def _half_tensor(t):
    if t.data_type != FLOAT:
        return t
    arr = numpy_helper.to_array(t)
    if np.isfinite(arr).all() and np.abs(arr).max(initial=0) > 65504:
        raise ValueError(f"tensor {t.name} has values beyond the fp16 range (max |x| {np.abs(arr).max()})")
    half = arr.astype(np.float16)
    # a weight that rounds to 0 is harmless; a lone constant that does is usually an epsilon guarding a
    # division or a square root, and 0 there makes NaN for every row that needed it
    if arr.size == 1 and arr.item() != 0 and half.item() == 0:
        raise ValueError(f"constant {t.name or '(unnamed)'} = {arr.item():g} is 0 in fp16 (whose smallest value is "
                         f"6e-08): if it guards a division or a square root, use 1e-4 or more, or keep the model fp32")
    return numpy_helper.from_array(half, t.name)


def _rename_tensor(g, old, new):
    """Renames tensor ``old`` to ``new`` wherever a node produces or consumes it."""
    for node in g.node:
        for names in (node.input, node.output):
            for k, name in enumerate(names):
                if name == old:
                    names[k] = new


def convert(model: onnx.ModelProto) -> onnx.ModelProto:
    """Returns ``model`` with float16 internals and float32 inputs and outputs."""
    g = model.graph
    for i, init in enumerate(g.initializer):
        g.initializer[i].CopyFrom(_half_tensor(init))
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                a.t.CopyFrom(_half_tensor(a.t))
            elif node.op_type == "Cast" and a.name == "to" and a.i == FLOAT:
                a.i = FLOAT16
    for vi in g.value_info:
        if vi.type.tensor_type.elem_type == FLOAT:
            vi.type.tensor_type.elem_type = FLOAT16

    cast_nodes = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type != FLOAT:
            continue
        half = inp.name + "__fp16"
        _rename_tensor(g, inp.name, half)
        cast_nodes.append(helper.make_node("Cast", [inp.name], [half], to=FLOAT16, name=half + "_cast"))
    out_casts = []
    for out in g.output:
        if out.type.tensor_type.elem_type != FLOAT:
            continue
        half = out.name + "__fp16"
        _rename_tensor(g, out.name, half)
        out_casts.append(helper.make_node("Cast", [half], [out.name], to=FLOAT, name=half + "_cast"))
    nodes = cast_nodes + list(g.node) + out_casts
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def convert_file(path):
    """Converts the ONNX file at ``path`` in place."""
    onnx.save(convert(onnx.load(path)), path)
