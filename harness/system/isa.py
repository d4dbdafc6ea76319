"""The CPU's SIMD instruction set, as far as it decides which int8 and float kernels run.

ONNX Runtime (MLAS), CTranslate2, XNNPACK and NumPy pick their kernels by these features at run time, so
int8 speed, int8 accuracy (u8s8 products saturate without VNNI on x86) and even the bytes an int8
calibration produces depend on them. A number measured on one instruction set is not assumed to hold on
another: every manifest records ``cpu.isa``, and model recipes record it with what they built.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence

__all__ = ["KERNEL_FEATURES", "isa_label", "simd_features"]

# /proc/cpuinfo names (x86 "flags", arm64 "Features") of the features kernels dispatch on, in rising order.
KERNEL_FEATURES = (
    # x86-64
    "sse4_2", "avx", "f16c", "fma", "avx2", "avx_vnni", "avx512f", "avx512bw", "avx512dq", "avx512vl",
    "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
    # arm64
    "asimd", "asimdhp", "fphp", "asimddp", "i8mm", "bf16", "sve", "sve2",
)  # fmt: skip


def simd_features(blocks: Sequence[dict[str, str]]) -> list[str]:
    """The kernel-relevant features the first CPU of /proc/cpuinfo (``parse_cpuinfo`` blocks) lists."""
    listed = next((block.get("flags") or block.get("Features") for block in blocks if block.get("flags") or block.get("Features")), "")
    present = set((listed or "").split())
    return [feature for feature in KERNEL_FEATURES if feature in present]


def isa_label(features: Sequence[str], machine: str | None = None) -> str:
    """A short name for the instruction set int8 kernels see, e.g. ``x86-64 AVX512-VNNI`` or ``arm64 dotprod+i8mm``."""
    arch = machine or platform.machine()
    have = set(features)
    if arch in ("x86_64", "AMD64"):
        for flag, name in (("amx_int8", "AMX"), ("avx512_vnni", "AVX512-VNNI"), ("avx_vnni", "AVX-VNNI"), ("avx512f", "AVX512")):
            if flag in have:
                return f"x86-64 {name}"
        return "x86-64 AVX2" if "avx2" in have else "x86-64 (no AVX2)"
    if arch in ("aarch64", "arm64"):
        extras = [name for flag, name in (("asimddp", "dotprod"), ("i8mm", "i8mm"), ("sve", "sve")) if flag in have]
        return "arm64 " + ("+".join(extras) if extras else "NEON")
    return arch or "unknown"
