"""What each backend really runs on, against what the device profile prefers.

A profile's ``providers`` (ONNX Runtime execution provider names) are a preference order: the jetson
profile prefers TensorRT, then CUDA, then the CPU. Backends report where each of their parts ended up
(``accelerators()``: part → an ONNX Runtime provider such as ``CUDAExecutionProvider``, or a device such
as ``cuda`` or ``cpu`` for CTranslate2, PyTorch and the CPU-only runtimes). A part fell back when it runs
on something the profile ranks below its first choice: a later ONNX Runtime provider of the list, or a
device of another kind than the first's (the CPU where the profile's first is a GPU); a GPU is never a
fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["GPU_PROVIDERS", "accelerator_class", "choose_providers", "fallbacks"]

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU = "CPUExecutionProvider"


def accelerator_class(name: str) -> str:
    """The kind of a provider or device: gpu (CUDA, TensorRT, ``cuda``), cpu, or the name itself for others."""
    if name in GPU_PROVIDERS or name.startswith("cuda"):
        return "gpu"
    if name in (CPU, "cpu"):
        return "cpu"
    return name


def choose_providers(preferred: Sequence[str], available: Iterable[str]) -> list[str]:
    """The preferred providers this ONNX Runtime has, in the profile's order, with the CPU's always last."""
    have = set(available)
    chosen = [p for p in preferred if p in have and p != CPU]
    return [*chosen, CPU]


def fallbacks(used: Mapping[str, str], preferred: Sequence[str]) -> list[str]:
    """One line per part that runs below the profile's first choice (empty when every part got it, or nothing is preferred)."""
    if not preferred:
        return []
    first = preferred[0]
    lines = []
    for part, name in used.items():
        if name == first:
            continue
        if name in preferred:  # another ONNX Runtime provider of the list: a lower one
            lines.append(f"{part} runs on {name}; the profile prefers {first}")
        elif accelerator_class(name) not in (accelerator_class(first), "gpu"):  # a GPU is never below what a profile asks
            lines.append(f"{part} runs on {name}; the profile prefers {first} ({accelerator_class(first)})")
    return lines
