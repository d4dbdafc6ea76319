"""The instruction set kernels dispatch on: CPUID natively and under a user-mode emulator, and what it changes in int8 arithmetic."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys

import pytest

from harness.system.cpu import capture_cpu, parse_cpuinfo
from harness.system.cpuid import CPUID_FEATURES, cpuid_features
from harness.system.isa import simd_features

X86 = platform.machine() == "x86_64" and sys.platform.startswith("linux")
EMULATOR = ["qemu-x86_64", "-cpu", "Haswell"]
needs_x86 = pytest.mark.skipif(not X86, reason="CPUID is asked on x86-64 Linux only")
needs_qemu = pytest.mark.skipif(not X86 or shutil.which(EMULATOR[0]) is None, reason="needs qemu-x86_64 (Debian qemu-user)")

# A uint8 x int8 product whose adjacent pairs sum beyond int16 (255*127*2): exact with 32-bit sums (VNNI),
# saturated by vpmaddubsw (AVX2, AVX-512 without VNNI). Prints "exact" or "saturated".
SATURATION_PROBE = """
import numpy as np, onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
w = np.full((64, 8), WEIGHT, np.int8)
a = helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 64])
y = helper.make_tensor_value_info("y", TensorProto.INT32, [1, 8])
graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "g", [a], [y], [numpy_helper.from_array(w, "w")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
x = np.full((1, 64), 255, np.uint8)
print("exact" if np.array_equal(session.run(None, {"a": x})[0], x.astype(np.int32) @ w.astype(np.int32)) else "saturated")
"""


def _run(code: str, emulated: bool) -> str:
    command = [*(EMULATOR if emulated else []), sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout.strip().splitlines()[-1]


@needs_x86
def test_cpuid_agrees_with_proc_cpuinfo_on_this_machine() -> None:
    asked = cpuid_features()
    assert asked is not None and "sse4_2" in asked
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        listed = simd_features(parse_cpuinfo(handle.read()))
    for name in ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"):
        assert (name in asked) == (name in listed), name
    cpu = capture_cpu()
    assert cpu["simd_source"] == "cpuid" and "simd_cpuinfo_differs" not in cpu
    assert set(cpu["simd_features"]) <= set(CPUID_FEATURES)


def test_a_fake_tree_is_read_from_its_cpuinfo(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: sse4_2 avx avx2 fma\n\n")
    cpu = capture_cpu(tmp_path)
    assert cpu["simd_source"] == "/proc/cpuinfo"
    assert cpu["isa"] == "x86-64 AVX2" and cpu["simd_features"] == ["sse4_2", "avx", "fma", "avx2"]


@needs_qemu
def test_under_the_emulator_the_manifest_names_the_emulated_instruction_set() -> None:
    code = "from harness.system.cpu import capture_cpu; c = capture_cpu(); print(c['isa'], '|', c.get('simd_cpuinfo_differs', ''))"
    isa, _, differs = _run(code, emulated=True).partition(" | ")
    assert isa == "x86-64 AVX2"
    native = capture_cpu()
    if native["isa"] != "x86-64 AVX2":  # the host lists more than the emulated CPU has: the manifest says so
        assert "only /proc/cpuinfo" in differs and "emulator" in differs


@needs_qemu
def test_u8s8_products_saturate_without_vnni_and_not_with_it() -> None:
    """The arithmetic fact the int8 recipe's reduce_range rests on, on an emulated AVX2 CPU and on this one."""
    full, seven_bit = SATURATION_PROBE.replace("WEIGHT", "127"), SATURATION_PROBE.replace("WEIGHT", "63")
    assert _run(full, emulated=True) == "saturated"
    assert _run(seven_bit, emulated=True) == "exact"  # reduce_range's weights in [-64, 63] fit 16-bit pair sums
    vnni = bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(cpuid_features() or []))
    assert _run(full, emulated=False) == ("exact" if vnni else "saturated")
