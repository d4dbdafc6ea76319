"""The x86-64 features this process's CPUID reports, with the operating system's state enabled for them.

ONNX Runtime (MLAS), CTranslate2 and oneDNN choose their kernels from CPUID and XGETBV, not from
/proc/cpuinfo. The two agree on a plain machine and in most VMs (the hypervisor masks both), but not
under a user-mode emulator (``qemu-x86_64 -cpu Haswell`` runs AVX2 kernels while /proc/cpuinfo still
lists the host's AVX-512 VNNI): the manifest should name the kernels that ran, so it asks CPUID.

CPUID and XGETBV are unprivileged instructions; they are run from a few bytes of machine code in an
executable anonymous mapping. Where the system refuses such a mapping (some hardened kernels), or off
x86-64 Linux, ``cpuid_features`` returns None and callers fall back to /proc/cpuinfo.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import sys

__all__ = ["CPUID_FEATURES", "cpuid_features"]

# push rbx; mov r8, rdx; mov eax, edi; mov ecx, esi; cpuid; store eax, ebx, ecx, edx at [r8]; pop rbx; ret
_CPUID = bytes.fromhex("53 4989d0 89f8 89f1 0fa2 418900 41895804 41894808 4189500c 5b c3")
# mov ecx, edi; xgetbv; shl rdx, 32; or rax, rdx; ret
_XGETBV = bytes.fromhex("89f9 0f01d0 48c1e220 4809d0 c3")

# (leaf, subleaf, register index (eax ebx ecx edx), bit) -> /proc/cpuinfo's name for the feature
_BITS: dict[str, tuple[int, int, int, int]] = {
    "sse4_2": (1, 0, 2, 20),
    "fma": (1, 0, 2, 12),
    "avx": (1, 0, 2, 28),
    "f16c": (1, 0, 2, 29),
    "avx2": (7, 0, 1, 5),
    "avx512f": (7, 0, 1, 16),
    "avx512dq": (7, 0, 1, 17),
    "avx512bw": (7, 0, 1, 30),
    "avx512vl": (7, 0, 1, 31),
    "avx512_vnni": (7, 0, 2, 11),
    "avx512_fp16": (7, 0, 3, 23),
    "amx_bf16": (7, 0, 3, 22),
    "amx_tile": (7, 0, 3, 24),
    "amx_int8": (7, 0, 3, 25),
    "avx_vnni": (7, 1, 0, 4),
    "avx512_bf16": (7, 1, 0, 5),
}
CPUID_FEATURES = tuple(_BITS)
_OSXSAVE = (1, 0, 2, 27)
# XCR0 bits the OS must enable before a feature's registers may be used.
_AVX_STATE = 0b110  # SSE and AVX (YMM) state
_AVX512_STATE = 0b11100110  # plus opmask, ZMM_Hi256, Hi16_ZMM
_AMX_STATE = 0b11 << 17  # XTILECFG and XTILEDATA


def _function(code: bytes, restype: type, *argtypes: type) -> tuple[mmap.mmap, object]:
    """``code`` in an executable page, callable; the mapping is returned too and must outlive the call."""
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return page, ctypes.CFUNCTYPE(restype, *argtypes)(address)


def _registers() -> tuple[dict[tuple[int, int], tuple[int, ...]], int]:
    """CPUID leaves 1 and 7 (subleaves 0 and 1) as (eax, ebx, ecx, edx), and XCR0 (0 without OSXSAVE)."""
    _page, cpuid = _function(_CPUID, None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32 * 4))
    out = (ctypes.c_uint32 * 4)()
    cpuid(0, 0, ctypes.byref(out))  # type: ignore[operator]
    highest = out[0]
    leaves: dict[tuple[int, int], tuple[int, ...]] = {}
    for leaf, subleaf in ((1, 0), (7, 0), (7, 1)):
        if leaf <= highest:
            cpuid(leaf, subleaf, ctypes.byref(out))  # type: ignore[operator]
            leaves[(leaf, subleaf)] = tuple(out)
    xcr0 = 0
    if _bit(leaves, *_OSXSAVE):
        _xpage, xgetbv = _function(_XGETBV, ctypes.c_uint64, ctypes.c_uint32)
        xcr0 = int(xgetbv(0))  # type: ignore[operator]
    return leaves, xcr0


def _bit(leaves: dict[tuple[int, int], tuple[int, ...]], leaf: int, subleaf: int, register: int, bit: int) -> bool:
    values = leaves.get((leaf, subleaf))
    return bool(values and values[register] >> bit & 1)


def _usable(name: str, xcr0: int) -> bool:
    """Whether the OS saves the registers feature ``name`` needs (Linux hides a feature whose state it does not enable)."""
    if name.startswith("amx"):
        return xcr0 & _AMX_STATE == _AMX_STATE
    if name.startswith("avx512"):
        return xcr0 & _AVX512_STATE == _AVX512_STATE
    if name.startswith(("avx", "fma", "f16c")):
        return xcr0 & _AVX_STATE == _AVX_STATE
    return True


def cpuid_features() -> list[str] | None:
    """The features CPUID reports and the OS enables, by /proc/cpuinfo's names; None where CPUID cannot be asked here."""
    if platform.machine() not in ("x86_64", "AMD64") or not sys.platform.startswith("linux"):
        return None
    try:
        leaves, xcr0 = _registers()
    except (OSError, ValueError, AttributeError):  # no executable mapping allowed, or no mmap.PROT_EXEC
        return None
    return [name for name, where in _BITS.items() if _bit(leaves, *where) and _usable(name, xcr0)]
