"""The shipped int8 set computes alike on an AVX2-only CPU (emulated) and on this one: the recipe's reduce_range at work."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import pytest

from harness.paths import data_root

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "ppocrv4-int8"
TUNE = data_root() / "icdar2015_incidental_tune150"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(platform.machine() != "x86_64" or shutil.which("qemu-x86_64") is None, reason="needs x86-64 and qemu-user"),
    pytest.mark.skipif(not (TUNE / "images").is_dir(), reason=f"needs the tuning photos under {TUNE}"),
]


def test_the_shipped_int8_set_reads_the_same_under_emulated_avx2() -> None:
    from harness.models.recipes.isa_check import DEFAULT_EMULATOR, _emulated, compare, dump, set_files

    native = dump(set_files(str(SHIPPED)), photos=2)
    emulated, seconds = _emulated(str(SHIPPED), 2, DEFAULT_EMULATOR)
    row = compare("shipped", native, emulated, seconds)
    assert row.isa_emulated == "x86-64 AVX2" and row.det_pixels > 1_000_000 and row.rec_steps > 20
    # det's int8 layers have 7-bit weights (no saturation without VNNI); only its float head may round differently
    assert row.det_decisions_differ < 1e-4 and row.det_mean_abs_diff < 1e-4
    assert row.rec_argmax_differ == 0.0
