"""Exact rewrites of PP-OCR ONNX graphs that make them cheaper to run and kinder to int8.

PP-LCNetV3 (the backbone of PP-OCRv4 det and rec) follows every convolution with a learnable affine
block (``y = s * x + b``, scalars), a hard-swish that the Paddle export spells as four operators
(``x * Clip(x + 3, 0, 6) / 6``), and often another affine block. In an int8 graph each of those runs in
float between a DequantizeLinear and a QuantizeLinear, and on a 1312x736 det input they took more
time than the int8 convolutions. ``simplify`` rewrites, each exact in real arithmetic:

1. ``Conv -> Mul(s) -> Add(b)``: folded into the convolution's weights and bias;
2. the four-operator hard-swish: one ``HardSwish`` (opset 14); when it reads a convolution, a
   ``Clip(min=-3)`` goes in front (hard-swish is 0 below -3), so that the quantizer, which folds a
   Clip into the convolution's output range, spends no int8 levels on values that all map to 0;
3. ``Mul(s) -> Add(b) -> Conv`` where the convolution has no padding (1x1 convolutions):
   folded into that convolution (with padding the border would change, so those stay).

``equalize`` (cross-layer equalization, from calibration ranges) and ``hardswish_as_mul`` (hard-swish
spelled with operators that have int8 kernels) are exact as well, and are applied to the graph about to
be quantized only. The model must hold its weights as initializers (run ``quant_pre_process`` first)
and use opset 14+.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["equalize", "hardswish_as_mul", "linear_conv_pairs", "simplify"]

MAX_EQUALIZE_GAIN = 100.0  # bound on one channel's rescaling, so near-dead channels are not blown up


class _Graph:
    """Producer / consumer / constant lookups over an ONNX graph that is being edited in place."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.consts = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        self.outputs = {value.name for value in graph.output}

    def producer(self, name: str) -> onnx.NodeProto | None:
        return next((node for node in self.graph.node if name in node.output), None)

    def consumers(self, name: str) -> list[onnx.NodeProto]:
        return [node for node in self.graph.node if name in node.input]

    def sole_consumer(self, name: str, op_type: str) -> onnx.NodeProto | None:
        """The only node reading ``name``, if it is an ``op_type`` and ``name`` is no graph output."""
        readers = self.consumers(name)
        if len(readers) == 1 and readers[0].op_type == op_type and name not in self.outputs:
            return readers[0]
        return None

    def scalar(self, node: onnx.NodeProto, skip: str) -> float | None:
        """The one-element constant among ``node``'s inputs other than ``skip``, if any."""
        others = [name for name in node.input if name != skip]
        if len(others) == 1 and others[0] in self.consts and self.consts[others[0]].size == 1:
            return float(self.consts[others[0]].ravel()[0])
        return None

    def set_const(self, name: str, value: np.ndarray) -> None:
        self.consts[name] = value
        for index, init in enumerate(self.graph.initializer):
            if init.name == name:
                self.graph.initializer[index].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
                return
        self.graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), name))

    def conv_params(self, conv: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
        """A convolution's weight and bias (zeros when it has none), if both are constants."""
        weight = self.consts.get(conv.input[1])
        if weight is None or len(self.consumers(conv.input[1])) != 1 or (len(conv.input) > 2 and conv.input[2] not in self.consts):
            return None
        if len(conv.input) < 3:
            conv.input.append(f"{conv.name}_bias")
            self.set_const(conv.input[2], np.zeros(weight.shape[0], np.float32))
        return weight, self.consts[conv.input[2]]

    def remove(self, node: onnx.NodeProto) -> None:
        self.graph.node.remove(node)


def _affine_after(g: _Graph, conv: onnx.NodeProto) -> bool:
    """Fold the scalar Muls and Adds that alone read ``conv``'s output, one after another, into ``conv``."""
    folded = False
    while _one_affine_after(g, conv):
        folded = True
    return folded


def _one_affine_after(g: _Graph, conv: onnx.NodeProto) -> bool:
    for op_type in ("Mul", "Add"):
        node = g.sole_consumer(conv.output[0], op_type)
        value = None if node is None else g.scalar(node, conv.output[0])
        params = g.conv_params(conv)
        if node is None or value is None or params is None:
            continue
        weight, bias = params
        if op_type == "Mul":
            g.set_const(conv.input[1], weight * value)
            g.set_const(conv.input[2], bias * value)
        else:
            g.set_const(conv.input[2], bias + value)
        conv.output[0] = node.output[0]
        g.remove(node)
        return True
    return False


def _affine_before(g: _Graph, conv: onnx.NodeProto) -> bool:
    """Fold ``Mul(s) -> Add(b)`` that only feeds ``conv`` into it, when ``conv`` pads nothing."""
    attributes = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    if any(attributes.get("pads", [0])) or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        return False
    add = g.producer(conv.input[0])
    if add is None or add.op_type != "Add" or g.sole_consumer(add.output[0], "Conv") is not conv:
        return False
    mul = next((g.producer(name) for name in add.input if name not in g.consts), None)
    if mul is None or mul.op_type != "Mul" or g.sole_consumer(mul.output[0], "Add") is not add:
        return False
    scale, shift = g.scalar(mul, next(n for n in mul.input if n not in g.consts)), g.scalar(add, mul.output[0])
    params = g.conv_params(conv)
    if scale is None or shift is None or params is None:
        return False
    weight, bias = params
    g.set_const(conv.input[2], bias + shift * weight.sum(axis=(1, 2, 3)))
    g.set_const(conv.input[1], weight * scale)
    conv.input[0] = next(n for n in mul.input if n not in g.consts)
    g.remove(add)
    g.remove(mul)
    return True


def _hardswish_at(g: _Graph, div: onnx.NodeProto) -> bool:
    """Replace ``x * Clip(x + 3, 0, 6) / 6`` ending at ``div`` with ``HardSwish(x)``."""
    if g.scalar(div, div.input[0]) != 6.0:
        return False
    mul = g.producer(div.input[0])
    if mul is None or mul.op_type != "Mul" or len(g.consumers(mul.output[0])) != 1:
        return False
    clip = next((n for n in map(g.producer, mul.input) if n is not None and n.op_type == "Clip"), None)
    if clip is None or [g.consts.get(name, np.array(np.nan)).ravel()[0] for name in clip.input[1:]] != [0.0, 6.0]:
        return False
    add = g.producer(clip.input[0])
    x = next((name for name in mul.input if name != clip.output[0]), None)
    if add is None or add.op_type != "Add" or x not in add.input or g.scalar(add, x) != 3.0:
        return False
    index = list(g.graph.node).index(div)
    source = g.producer(x) if x is not None else None
    new_nodes = [helper.make_node("HardSwish", [x], [div.output[0]], name=f"{div.name}_hardswish")]
    if source is not None and source.op_type == "Conv":
        g.set_const(f"{div.name}_clip_min", np.array(-3.0, np.float32))
        clipped = f"{x}_from_minus3"
        new_nodes.insert(0, helper.make_node("Clip", [x, f"{div.name}_clip_min"], [clipped], name=f"{div.name}_clip"))
        new_nodes[-1].input[0] = clipped
    for offset, node in enumerate(new_nodes):
        g.graph.node.insert(index + offset, node)
    for node in (div, mul, clip, add):
        g.remove(node)
    return True


def _rewrites(g: _Graph) -> Iterator[bool]:
    for node in list(g.graph.node):
        if node.op_type == "Conv":
            yield _affine_after(g, node)
            yield _affine_before(g, node)
        elif node.op_type == "Div":
            yield _hardswish_at(g, node)


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with the rewrites above applied until none applies."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = _Graph(model.graph)
    while any(list(_rewrites(graph))):
        pass
    # Constants that folding left unread go, so the file carries no dead weights.
    used = {name for node in model.graph.node for name in node.input}
    dead = [init for init in model.graph.initializer if init.name not in used]
    for init in dead:
        model.graph.initializer.remove(init)
    return model


def linear_conv_pairs(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """(A, B) convolution names where A's output reaches only B, directly or through Relus.

    Relu is positively homogeneous, so A's output channels can be rescaled and B's input channels
    rescaled back without changing B's output (cross-layer equalization).
    """
    g = _Graph(model.graph)
    pairs = []
    for conv in (node for node in model.graph.node if node.op_type == "Conv"):
        source = g.producer(conv.input[0])
        while source is not None and source.op_type == "Relu" and len(g.consumers(source.output[0])) == 1:
            source = g.producer(source.input[0])
        if source is not None and source.op_type == "Conv" and len(g.consumers(source.output[0])) == 1:
            pairs.append((source.name, conv.name))
    return pairs


def equalize(model: onnx.ModelProto, channel_absmax: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of ``model`` with cross-layer equalization on ``linear_conv_pairs``: exact in real arithmetic.

    ``channel_absmax`` maps each A's name to the largest |output| per channel seen on calibration
    data. With per-tensor activation quantization a channel far narrower than the widest loses most
    of its int8 levels; each A channel is scaled towards the widest (fully when B is depthwise, whose
    per-channel weight quantization does not care; half way in log scale when B mixes channels, so B's
    weights for that channel are not squeezed) and B's weights for it scaled back.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = _Graph(model.graph)
    nodes = {node.name: node for node in model.graph.node}
    for a_name, b_name in linear_conv_pairs(model):
        a, b = nodes[a_name], nodes[b_name]
        a_params, b_weight = g.conv_params(a), g.consts.get(b.input[1])
        if a_params is None or b_weight is None or a_name not in channel_absmax:
            continue
        ranges = np.asarray(channel_absmax[a_name], dtype=np.float64)
        widest = ranges.max()
        gain = np.clip(widest / np.maximum(ranges, widest / MAX_EQUALIZE_GAIN), 1.0, MAX_EQUALIZE_GAIN)
        group = next((helper.get_attribute_value(attr) for attr in b.attribute if attr.name == "group"), 1)
        depthwise = group == len(ranges) == b_weight.shape[0] and b_weight.shape[1] == 1
        if not depthwise and group != 1:
            continue
        gain = gain if depthwise else np.sqrt(gain)
        weight, bias = a_params
        g.set_const(a.input[1], weight * gain.reshape(-1, 1, 1, 1))
        g.set_const(a.input[2], bias * gain)
        shape = (-1, 1, 1, 1) if depthwise else (1, -1, 1, 1)
        g.set_const(b.input[1], b_weight / gain.reshape(shape))
    return model


def hardswish_as_mul(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with each ``HardSwish(x)`` spelled ``x * Clip(x * 1/6 + 0.5, 0, 1)``.

    Slower in float, but every one of those operators has an int8 kernel in ONNX Runtime (QLinearMul,
    QLinearAdd; the Clip folds into the Add's output range), whereas HardSwish has none: quantized,
    the activation then runs in int8 instead of between a DequantizeLinear and a QuantizeLinear.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = _Graph(model.graph)
    for name, value in (("hswish_sixth", 1 / 6), ("hswish_half", 0.5), ("hswish_zero", 0.0), ("hswish_one", 1.0)):
        g.set_const(name, np.array(value, np.float32))
    for node in [n for n in model.graph.node if n.op_type == "HardSwish"]:
        x, y, stem = node.input[0], node.output[0], node.name
        spelled = [
            helper.make_node("Mul", [x, "hswish_sixth"], [f"{stem}_sixth"], name=f"{stem}_mul_sixth"),
            helper.make_node("Add", [f"{stem}_sixth", "hswish_half"], [f"{stem}_shifted"], name=f"{stem}_add_half"),
            helper.make_node("Clip", [f"{stem}_shifted", "hswish_zero", "hswish_one"], [f"{stem}_gate"], name=f"{stem}_clip"),
            helper.make_node("Mul", [x, f"{stem}_gate"], [y], name=f"{stem}_mul_gate"),
        ]
        index = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        for offset, new in enumerate(spelled):
            model.graph.node.insert(index + offset, new)
    return model
