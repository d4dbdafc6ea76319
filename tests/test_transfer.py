"""check-transfer: equivalence per figure between two real runs, never agreement from overlapping intervals."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.report.transfer import _verdict, check_transfer
from harness.store.reader import load_run
from harness.testing.experiments import write_experiment


def test_verdicts_are_two_one_sided_tests_not_overlapping_intervals() -> None:
    assert _verdict((-0.004, 0.006), (-0.006, 0.008), -0.01, 0.01, 0.0) == "equivalent"  # inside the margin
    assert _verdict((0.02, 0.05), (0.015, 0.055), -0.01, 0.01, 0.0) == "different"  # beyond noise and the margin
    assert _verdict((-0.03, 0.04), (-0.04, 0.05), -0.01, 0.01, 0.0) == "undecided"  # wide: cannot tell
    assert _verdict((1.01, 1.03), (1.005, 1.035), 1 / 1.05, 1.05, 1.0) == "equivalent"  # a 2% slowdown, within 5%
    assert _verdict((float("nan"), 1.0), (0.9, 1.1), -1, 1, 0) == "undecided"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same PP-OCR configuration on two sets of synthetic signs (the tuning seeds and the reported ones)."""
    root = tmp_path_factory.mktemp("transfer")
    runs = []
    for name, seed in (("tune", 100), ("test", 0)):
        source = {"id": f"signs-{name}", "kind": "synthetic", "seed": seed, "n": 10, "loop": False}
        ocr = {"id": "floor", "backend": "rapidocr", "tuning": "floor"}
        run = {"warmup_frames": 1, "all_frames": True, "max_frames": 20, "save_overlays": 0}
        stages = {"mt": False, "overlay": False}
        experiment = write_experiment(root / f"{name}.toml", run=run, sources=[source], ocr=[ocr], mt=None, stages=stages)
        out = root / f"out-{name}"
        assert main(["run", str(experiment), "--device", "laptop", "--out", str(out)]) == 0
        runs.append(next(out.glob("*/*")))
    return runs[0], runs[1]


def test_check_transfer_on_two_real_runs(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tune, test = two_runs
    checks = check_transfer(load_run(tune), load_run(test), sources={"signs-tune": "signs-test"})
    figures = {c.figure: c for c in checks}
    assert set(figures) >= {"e2e p50 ms", "det_hmean", "e2e_hmean", "ocr_word_recall", "ocr_wer"}
    for check in checks:
        assert check.verdict in ("equivalent", "different", "undecided")
        assert check.ci90[0] <= check.ci95[1] and check.ci95[0] <= check.ci90[0] <= check.ci90[1] <= check.ci95[1]
    assert figures["ocr_wer"].change == pytest.approx(figures["ocr_wer"].b - figures["ocr_wer"].a)
    assert main(["check-transfer", str(tune), str(test), "--source", "signs-tune=signs-test", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| signs-test/floor/off | ocr_wer |" in out and "figures:" in out
    assert main(["check-transfer", str(tune), str(test)]) == 2  # different sources and no mapping: nothing to compare


def test_one_image_set_on_two_machines_is_compared_frame_by_frame(two_runs: tuple[Path, Path]) -> None:
    """The same frames read alike give a zero-width paired interval: equivalent, where unpaired resampling could not tell."""
    _, test = two_runs
    checks = [c for c in check_transfer(load_run(test), load_run(test)) if c.figure != "e2e p50 ms"]
    assert checks and all(c.change == 0 and c.ci90 == (0.0, 0.0) and c.verdict == "equivalent" for c in checks)
