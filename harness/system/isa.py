"""The CPU's SIMD instruction set, as far as it decides which int8 and float kernels run.

ONNX Runtime (MLAS), CTranslate2, XNNPACK and NumPy pick their kernels by these features at run time, so
int8 speed, int8 accuracy (u8s8 products saturate without VNNI on x86) and even the bytes an int8
calibration produces depend on them. A number measured on one instruction set is not assumed to hold on
another: every manifest records ``cpu.isa``, and model recipes record it with what they built.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence

__all__ = ["KERNEL_FEATURES", "int8_kernels", "isa_label", "simd_features"]

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


def int8_kernels(features: Sequence[str], machine: str | None = None) -> dict[str, str]:
    """The int8 kernel family ONNX Runtime (MLAS) and CTranslate2 will pick here, inferred from the features.

    Neither library reports its choice, so this follows their dispatch rules as documented in their
    sources (marked ``inferred`` in the manifest): on x86, u8s8 products through VNNI's ``vpdpbusd``
    where it exists, else ``vpmaddubsw``, whose 16-bit intermediate sums can saturate (ONNX Runtime's
    quantization guide: use ``reduce_range`` or keep the layer in float there); AMX tiles where present; on
    arm64, ``sdot``/``udot`` (dotprod) or ``smmla`` (i8mm), else widening NEON multiplies.
    """
    arch = machine or platform.machine()
    have = set(features)
    if arch in ("x86_64", "AMD64"):
        if "amx_int8" in have:
            mlas = "AMX int8 tiles"
        elif "avx512_vnni" in have:
            mlas = "AVX512-VNNI u8s8 (vpdpbusd, 32-bit sums)"
        elif "avx_vnni" in have:
            mlas = "AVX-VNNI u8s8 (vpdpbusd, 32-bit sums)"
        elif "avx512bw" in have:
            mlas = "AVX512BW u8s8 (vpmaddubsw, 16-bit sums can saturate)"
        elif "avx2" in have:
            mlas = "AVX2 u8s8 (vpmaddubsw, 16-bit sums can saturate)"
        else:
            mlas = "SSE u8s8 (16-bit sums can saturate)"
        vnni = bool(have & {"avx512_vnni", "avx_vnni", "amx_int8"})
        ct2 = "oneDNN/MKL s8 GEMM " + ("with VNNI" if vnni else "without VNNI (vpmaddubsw)")
        return {"onnxruntime": mlas, "ctranslate2": ct2, "how": "inferred from the CPU features"}
    if arch in ("aarch64", "arm64"):
        kind = "i8mm (smmla)" if "i8mm" in have else "dotprod (sdot/udot)" if "asimddp" in have else "NEON widening multiplies"
        return {"onnxruntime": f"NEON {kind}", "ctranslate2": f"Ruy {kind}", "how": "inferred from the CPU features"}
    return {"onnxruntime": "unknown", "ctranslate2": "unknown", "how": f"no rule for {arch or 'this machine'}"}
