"""report.html: self-contained, with figures, tables, environment, validity and warnings; rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.checks import run_warnings, throttling_warnings
from harness.report.tables import run_summary
from harness.store.reader import load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]


@pytest.fixture
def reported(tmp_path: Path) -> Path:
    run_dir = shutil.copytree(RUNS / "quant-tiny", tmp_path / "run")
    assert main(["report", str(run_dir)]) == 0
    return run_dir / "report.html"


def test_report_writes_a_self_contained_page(reported: Path):
    page = reported.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 4  # stage latency, CDF, Pareto, quantized vs full
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # nothing fetched from elsewhere
    for heading in ("Warnings", "Figures", "Summary", "Environment", "Validity"):
        assert f"<h2>{heading}</h2>" in page
    assert "skipped: no offload placements" in page
    assert "wide CI" in page  # six frames: the 95% CI of the median spans 45% of it


def test_warnings_cover_failures_throttling_and_wide_cis():
    run = load_run(RUNS / "smoke")
    run.manifest["configurations"][0].update(status="failed", reason="worker died")
    run.manifest["environment"]["cpu"]["cur_freq_khz"] = [2_000_000, 2_000_000]
    run.manifest.pop("validity")
    run.manifest["environment_end"] = {
        "cpu": {"cur_freq_khz": [1_200_000, 1_100_000]},
        "thermal": [{"zone": "z0", "type": "cpu", "temp_c": 85.0}],
    }
    lines = run_warnings(run, run_summary(run))
    assert any("failed: worker died" in line for line in lines)
    assert any("fell from 2000 MHz to 1200 MHz" in line for line in lines)
    assert len(throttling_warnings(run.manifest)) == 2
    assert any("wide CI" in line or "no CI" in line for line in lines)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_chromium_renders_figures_and_tables(reported: Path, tmp_path: Path):
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", reported.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-figures-decoded="4"' in dom  # every embedded PNG decoded by the browser
    assert dom.count("<table") >= 6  # one per figure, the summary, environment and validity
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--window-size=1100,2000",
            f"--screenshot={shot}",
            reported.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
