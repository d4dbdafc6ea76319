"""An ONNX graph run by PyTorch, op by op: what the PP-OCR models need, on any device torch has, in fp32, fp16 or bf16.

``harness.models.recipes.ppocr_torch`` writes a model as two files: ``<part>.json`` (the graph: inputs,
outputs, nodes with their ONNX op type, inputs, outputs and attributes) and ``<part>.safetensors`` (every
initializer and Constant, by name). Loading needs only torch and safetensors, not ``onnx``, so a GPU
machine with PyTorch runs the models as they are.

Floating-point constants become the module's buffers, so ``module.to(device, dtype)`` moves and casts
them, except one-element constants of arithmetic (Python numbers, which meet a tensor of any dtype) and
the inputs that act as settings (Clip bounds, Resize scales, Slice bounds, Reshape shapes), which stay on
the CPU with every integer tensor (the Shape → Cast → Slice → Concat → Reshape chains of the recognizer's
attention blocks): reading them never makes the device synchronize.
Only the operators these graphs use are implemented; any other is refused when the graph loads, naming it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DTYPES", "FORMAT", "OPS", "OnnxGraph", "TorchSession", "load_graph"]

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
FORMAT = 1  # the layout of the .json file; the recipe writes it, this module reads it
Node = dict[str, Any]


def _pads(node: Node, spatial: int) -> tuple[list[int], list[int]]:
    """ONNX ``pads`` (all begins, then all ends) as (begins, ends)."""
    pads = node["attrs"].get("pads", [0] * 2 * spatial)
    if node["attrs"].get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise ValueError(f"{node['op']}: auto_pad {node['attrs']['auto_pad']} is not supported")
    return list(pads[:spatial]), list(pads[spatial:])


def _padded(x: Tensor, begins: list[int], ends: list[int]) -> tuple[Tensor, list[int]]:
    """``x`` padded explicitly where begins and ends differ; else the symmetric padding to pass to the op."""
    if begins == ends:
        return x, begins
    flat = [p for b, e in zip(reversed(begins), reversed(ends), strict=True) for p in (b, e)]
    return F.pad(x, flat), [0] * len(begins)


def _conv(g: OnnxGraph, node: Node, x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    a = node["attrs"]
    x, pad = _padded(x, *_pads(node, w.dim() - 2))
    return F.conv2d(x, w, b, a.get("strides", 1), pad, a.get("dilations", 1), a.get("group", 1))


def _conv_transpose(g: OnnxGraph, node: Node, x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    a = node["attrs"]
    begins, ends = _pads(node, w.dim() - 2)
    if begins != ends or "output_shape" in a:
        raise ValueError("ConvTranspose: only symmetric pads without output_shape are supported")
    return F.conv_transpose2d(x, w, b, a.get("strides", 1), begins, a.get("output_padding", 0), a.get("group", 1), a.get("dilations", 1))


def _batch_norm(g: OnnxGraph, node: Node, x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, var: Tensor) -> Tensor:
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, node["attrs"].get("epsilon", 1e-5))


def _pool(kind: str) -> Callable[..., Tensor]:
    def pool(g: OnnxGraph, node: Node, x: Tensor) -> Tensor:
        a = node["attrs"]
        x, pad = _padded(x, *_pads(node, x.dim() - 2))
        kernel, stride, ceil = a["kernel_shape"], a.get("strides", 1), bool(a.get("ceil_mode", 0))
        if kind == "max":
            return F.max_pool2d(x, kernel, stride, pad, a.get("dilations", 1), ceil)
        return F.avg_pool2d(x, kernel, stride, pad, ceil, bool(a.get("count_include_pad", 0)))

    return pool


def _binary(op: Callable[[Any, Any], Tensor]) -> Callable[..., Tensor]:
    def binary(g: OnnxGraph, node: Node, a: Tensor | float, b: Tensor | float) -> Tensor:
        return op(a, b)

    return binary


def _clip(g: OnnxGraph, node: Node, x: Tensor, low: Tensor | None = None, high: Tensor | None = None) -> Tensor:
    a = node["attrs"]
    low_value = float(low.item()) if low is not None else a.get("min")
    high_value = float(high.item()) if high is not None else a.get("max")
    return torch.clamp(x, low_value, high_value)


def _hard_sigmoid(g: OnnxGraph, node: Node, x: Tensor) -> Tensor:
    a = node["attrs"]
    return torch.clamp(x * a.get("alpha", 0.2) + a.get("beta", 0.5), 0.0, 1.0)


def _resize(
    g: OnnxGraph, node: Node, x: Tensor, roi: Tensor | None = None, scales: Tensor | None = None, sizes: Tensor | None = None
) -> Tensor:
    a = node["attrs"]
    modes = (a.get("mode", "nearest"), a.get("coordinate_transformation_mode", "half_pixel"), a.get("nearest_mode", "round_prefer_floor"))
    if modes != ("nearest", "asymmetric", "floor"):  # torch's "nearest" is exactly this ONNX mode
        raise ValueError(f"Resize: only nearest/asymmetric/floor is supported, not {'/'.join(modes)}")
    if sizes is not None and sizes.numel():
        return F.interpolate(x, size=[int(s) for s in sizes.tolist()[2:]], mode="nearest")
    factors = scales.tolist() if scales is not None else []
    if factors[:2] != [1.0, 1.0]:
        raise ValueError("Resize: only spatial scales are supported")
    return F.interpolate(x, scale_factor=factors[2:], mode="nearest")


def _slice(
    g: OnnxGraph, node: Node, x: Tensor, starts: Tensor, ends: Tensor, axes: Tensor | None = None, steps: Tensor | None = None
) -> Tensor:
    axis_list = axes.tolist() if axes is not None else list(range(starts.numel()))
    step_list = steps.tolist() if steps is not None else [1] * starts.numel()
    index: list[slice] = [slice(None)] * x.dim()
    for axis, start, end, step in zip(axis_list, starts.tolist(), ends.tolist(), step_list, strict=True):
        if step != 1:
            raise ValueError("Slice: only step 1 is supported")
        size = x.shape[axis]
        index[axis] = slice(max(-size, min(size, start)), max(-size, min(size, end)))
    return x[tuple(index)]


def _reshape(g: OnnxGraph, node: Node, x: Tensor, shape: Tensor) -> Tensor:
    target = [x.shape[i] if s == 0 else s for i, s in enumerate(shape.tolist())]
    return x.reshape(target)


def _squeeze(g: OnnxGraph, node: Node, x: Tensor, axes: Tensor | None = None) -> Tensor:
    dims = axes.tolist() if axes is not None else node["attrs"].get("axes")
    return x.squeeze(tuple(dims)) if dims is not None else x.squeeze()


def _reduce_mean(g: OnnxGraph, node: Node, x: Tensor) -> Tensor:
    a = node["attrs"]
    return x.mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))


def _cast(g: OnnxGraph, node: Node, x: Tensor) -> Tensor:
    to = node["attrs"]["to"]
    if to in INTEGER_TYPES:
        return x.to("cpu", INTEGER_TYPES[to])
    if to in (1, 10, 11, 16):  # float, float16, double, bfloat16: the graph's floating point, at the module's precision
        return x.to(g.device, g.dtype)
    raise ValueError(f"Cast: ONNX type {to} is not supported")


INTEGER_TYPES = {6: torch.int32, 7: torch.int64}
SETTINGS_FROM = {"Clip": 1, "Resize": 1, "Slice": 1, "Reshape": 1, "Squeeze": 1}  # inputs from this index on are settings
ARITHMETIC = {"Add", "Sub", "Mul", "Div", "Pow"}
OPS: dict[str, Callable[..., Tensor]] = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "BatchNormalization": _batch_norm,
    "Add": _binary(torch.add),
    "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul),
    "Div": _binary(torch.div),
    "Pow": _binary(torch.pow),
    "MatMul": lambda g, node, a, b: torch.matmul(a, b),
    "Clip": _clip,
    "Relu": lambda g, node, x: F.relu(x),
    "Sigmoid": lambda g, node, x: torch.sigmoid(x),
    "HardSigmoid": _hard_sigmoid,
    "Sqrt": lambda g, node, x: torch.sqrt(x),
    "Softmax": lambda g, node, x: torch.softmax(x, dim=node["attrs"].get("axis", -1)),
    "GlobalAveragePool": lambda g, node, x: x.mean(dim=(2, 3), keepdim=True),
    "AveragePool": _pool("avg"),
    "MaxPool": _pool("max"),
    "Resize": _resize,
    "Concat": lambda g, node, *xs: torch.cat(xs, dim=node["attrs"]["axis"]),
    "Reshape": _reshape,
    "Transpose": lambda g, node, x: x.permute(node["attrs"]["perm"]),
    "Squeeze": _squeeze,
    "ReduceMean": _reduce_mean,
    "Shape": lambda g, node, x: torch.tensor(list(x.shape), dtype=torch.int64),
    "Cast": _cast,
    "Slice": _slice,
    "Identity": lambda g, node, x: x,
}


def _check_format(graph: Any) -> None:
    found = graph.get("format") if isinstance(graph, dict) else None
    if found != FORMAT:
        raise ValueError(f"graph format {found!r}, this arbench reads format {FORMAT}; rebuild with `arbench models build`")


class OnnxGraph(nn.Module):
    """A graph of ``OPS`` nodes with its constants; ``forward`` takes and returns tensors as the ONNX graph does."""

    def __init__(self, graph: dict[str, Any], constants: dict[str, Tensor]) -> None:
        super().__init__()
        _check_format(graph)
        unknown = sorted({node["op"] for node in graph["nodes"]} - OPS.keys())
        if unknown:
            raise ValueError(f"the graph uses operators this runtime lacks: {', '.join(unknown)}")
        self.inputs: list[str] = graph["inputs"]
        self.outputs: list[str] = graph["outputs"]
        self.metadata: dict[str, str] = dict(graph.get("metadata", {}))  # the ONNX model's (the recognizer's characters)
        self.nodes: list[Node] = graph["nodes"]
        readers: dict[str, list[tuple[str, int]]] = {}
        for node in self.nodes:
            for index, name in enumerate(node["inputs"]):
                readers.setdefault(name, []).append((node["op"], index))
        self._slots: dict[str, str] = {}  # constant name -> buffer name (buffer names cannot hold dots)
        self.fixed: dict[str, Tensor | float] = {}  # constants that stay where they are: CPU tensors and numbers
        for i, (name, value) in enumerate(sorted(constants.items())):
            uses = readers.get(name, [])
            if not value.is_floating_point() or (uses and all(index >= SETTINGS_FROM.get(op, 99) for op, index in uses)):
                self.fixed[name] = value
            elif value.numel() == 1 and uses and all(op in ARITHMETIC for op, _ in uses):
                self.fixed[name] = float(value.item())
            else:
                self._slots[name] = f"c{i}"
                self.register_buffer(f"c{i}", value)

    @property
    def device(self) -> torch.device:
        return next(iter(self.buffers())).device

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.buffers())).dtype

    def forward(self, *inputs: Tensor) -> list[Tensor]:
        values: dict[str, Tensor | float | None] = {"": None}  # an empty input name is an absent optional input
        values.update(self.fixed)
        values.update({name: getattr(self, slot) for name, slot in self._slots.items()})
        values.update(zip(self.inputs, inputs, strict=True))
        for node in self.nodes:
            result = OPS[node["op"]](self, node, *(values[name] for name in node["inputs"]))
            values[node["outputs"][0]] = result
        return [values[name] for name in self.outputs]  # type: ignore[misc]


def load_graph(json_path: Path) -> OnnxGraph:
    """The module of ``<part>.json`` and its ``<part>.safetensors`` beside it, on the CPU in float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    graph = json.loads(Path(json_path).read_text(encoding="utf-8"))
    _check_format(graph)  # before the weights are read
    try:
        constants = load_file(str(Path(json_path).with_suffix(".safetensors")))
    except SafetensorError as exc:
        raise ValueError(f"{Path(json_path).with_suffix('.safetensors').name}: {exc}") from None
    return OnnxGraph(graph, constants)


class TorchSession:
    """One graph called as RapidOCR calls its sessions: an NCHW float32 batch in, [outputs] out (float32 arrays).

    ``model_ns`` adds up the model's time (to the device's synchronize); ``copies`` the host↔device copies
    as (name, start_ns, end_ns) on ``clock``, until taken. ``providers`` names the device, as ONNX
    Runtime's sessions name theirs.
    """

    def __init__(self, path: Path, device: str, precision: str) -> None:
        graph = load_graph(path)
        self.dtype = getattr(torch, DTYPES[precision])
        self.device = torch.device(device)
        self.graph = graph.to(self.device, self.dtype).eval()
        self.metadata: dict[str, str] = graph.metadata
        self.providers = [str(self.device)]
        self.clock: Callable[[], int] = time.monotonic_ns
        self.model_ns = 0
        self.copies: list[tuple[str, int, int]] = []

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        on_gpu = self.device.type != "cpu"
        with torch.inference_mode():
            start = self.clock()
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
            if on_gpu:
                x = x.to(self.device)
                self._synchronize()
                copied = self.clock()
                self.copies.append(("h2d", start, copied))
                start = copied
            outputs = [y.float() for y in self.graph(x.to(self.dtype))]
            self._synchronize()
            computed = self.clock()
            self.model_ns += computed - start
            arrays = [y.cpu().numpy() for y in outputs]
            if on_gpu:
                self.copies.append(("d2h", computed, self.clock()))
        return arrays

    def take_model_ns(self) -> int:
        """Time inside the model since the last call of this method (ns)."""
        taken, self.model_ns = self.model_ns, 0
        return taken

    def take_copies(self) -> list[tuple[str, int, int]]:
        """The copies since the last call of this method."""
        taken, self.copies = self.copies, []
        return taken

    # RapidOCR's recognizer asks its session for the character list kept in the model's metadata
    def have_key(self, key: str = "character") -> bool:
        return key in self.metadata

    def get_character_list(self, key: str = "character") -> list[str]:
        return self.metadata[key].splitlines()
