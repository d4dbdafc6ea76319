"""`arbench compare`: ratios of medians, Mann–Whitney U, flags only beyond noise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.report.compare import ALPHA, MIN_CHANGE, Change, compare_runs
from harness.report.stats import mann_whitney_p, ratio_of_medians_ci
from harness.store.reader import load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"


def scaled_copy(name: str, target: Path, factor: float) -> Path:
    """A stored run whose every span lasts ``factor`` times as long (spans stretched from the frame's start)."""
    shutil.copytree(RUNS / name, target)
    path = target / "frames.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        origin = record["spans"][0]["start_ns"]
        for span in record["spans"]:
            span["start_ns"] = origin + round((span["start_ns"] - origin) * factor)
            span["end_ns"] = origin + round((span["end_ns"] - origin) * factor)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return target


def test_a_run_against_itself_changes_nothing():
    run = load_run(RUNS / "quant-tiny")
    changes, unmatched = compare_runs(run, run)
    assert not unmatched
    assert {c.stage for c in changes} >= {"e2e", "ocr", "ocr.det"}
    assert all(c.ratio == 1.0 and c.verdict == "same" for c in changes)


def test_a_large_slowdown_is_flagged_and_a_small_one_is_not(tmp_path):
    base = load_run(RUNS / "smoke-offload")
    slow = load_run(scaled_copy("smoke-offload", tmp_path / "slow", 1.5))
    changes, _ = compare_runs(base, slow)
    e2e = [c for c in changes if c.stage == "e2e"]
    assert all(abs(c.ratio - 1.5) < 0.01 for c in e2e)
    # four frames per configuration, the same in both runs: even a 50% shift on every one cannot reach p < 0.01
    assert all(c.verdict == "same" and c.p_value > ALPHA and c.test == "Wilcoxon" for c in e2e)
    assert Change("c", "e2e", 100, 100, 100.0, 150.0, 1.5, 1.4, 1.6, 1e-9).verdict == "slower"
    assert Change("c", "e2e", 100, 100, 100.0, 101.0, 1.0 + MIN_CHANGE / 2, 1.0, 1.02, 1e-9).verdict == "same"
    assert Change("c", "e2e", 100, 100, 100.0, 80.0, 0.8, 0.7, 0.9, 1e-9).verdict == "faster"


def test_mann_whitney_and_bootstrap_on_skewed_samples():
    rng = np.random.default_rng(1)
    a = rng.lognormal(np.log(100), 0.3, 300)
    b = rng.lognormal(np.log(110), 0.3, 300)
    assert mann_whitney_p(a, b) < 1e-4
    low, high = ratio_of_medians_ci(a, b)
    assert low < 1.1 < high and low > 1.0
    assert mann_whitney_p(a, a) > 0.9


def test_cluster_bootstrap_is_the_statistic_of_the_drawn_frames_readings():
    from harness.metrics.latency import cluster_bootstrap

    values = np.array([5.0, 1.0, 9.0, 4.0, 4.5, 7.0, 2.0, 8.0])
    frames = ["a", "b", "b", "c", "c", "c", "d", "e"]  # unequal clusters
    for statistic, reduce in (("median", np.median), ("mean", np.mean)):
        [estimates] = cluster_bootstrap([(values, frames)], statistic, resamples=50, seed=3)
        draws = np.random.default_rng(3).integers(0, 5, size=(50, 5))  # the same draws: frames in order of appearance
        order = list(dict.fromkeys(frames))
        brute = [reduce([v for k in row for v, f in zip(values, frames, strict=True) if f == order[k]]) for row in draws]
        assert np.allclose(estimates, brute)


def test_with_rounds_a_frames_readings_count_once_and_shared_frames_are_paired():
    from harness.report.stats import bootstrap_ci, change_p

    rng = np.random.default_rng(2)
    photos_a = rng.normal(300.0, 40.0, 15)  # photos differ a lot; one photo's readings barely
    photos_b = photos_a * 1.04  # B is 4% slower on every photo
    a = np.concatenate([photos_a + rng.normal(0.0, 1.0, 15) for _ in range(4)])  # four rounds of the same 15 photos
    b = np.concatenate([photos_b + rng.normal(0.0, 1.0, 15) for _ in range(4)])
    frames = [("s", i) for i in range(15)] * 4
    for statistic in ("mean", "median"):
        low, high = bootstrap_ci(a, statistic, frames=frames)
        naive = bootstrap_ci(a, statistic)
        assert high - low > 1.4 * (naive[1] - naive[0])  # 60 readings of 15 photos are not 60 photos
        assert low < (np.mean(a) if statistic == "mean" else np.median(a)) < high
        assert bootstrap_ci(a, statistic, frames=[("s", i) for i in range(60)]) == naive  # no repeats: as before
    low, high = ratio_of_medians_ci(a, b, frames=(frames, frames))
    assert 1.0 < low < 1.04 < high < 1.08  # the same photos on both sides: their differences cancel
    other = [("t", i) for i in range(15)] * 4  # B read other photos: nothing to pair
    low, high = ratio_of_medians_ci(a, b, frames=(frames, other))
    assert low < 1.0 and high > 1.04  # independent draws: which photos each side drew swamps a 4% change
    paired, unpaired = change_p(a, b, (frames, frames)), change_p(a, b, (frames, other))
    assert paired[1] == "Wilcoxon" and unpaired[1] == "Mann–Whitney" and paired[0] < 1e-3 < unpaired[0]
    assert mann_whitney_p(a, b, (frames, other)) > 2 * mann_whitney_p(a, b)  # one value per photo, not four
    assert np.isnan(bootstrap_ci(a[:20], "mean", frames=frames[:5] * 4)[0])  # 5 photos: too few to draw from
    with pytest.raises(ValueError, match="60 values but 59 frames"):
        bootstrap_ci(a, "mean", frames=frames[:59])
    with pytest.raises(ValueError, match="statistic must be one of"):
        bootstrap_ci(a, "Mean", frames=frames)


def test_cli_compare_markdown_names_its_test(tmp_path, capsys):
    slow = scaled_copy("quant-tiny", tmp_path / "slow", 1.25)
    assert main(["compare", str(RUNS / "quant-tiny"), str(slow), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "Mann–Whitney U" in out and "bootstrap" in out and "| synth-easy/ort-fp32/off | e2e |" in out
    assert main(["compare", str(RUNS / "quant-tiny"), str(RUNS / "smoke")]) == 2  # no configuration in common


def test_compare_warns_when_the_instruction_sets_differ(tmp_path):
    from harness.report.compare import isa_warnings

    a, b = tmp_path / "a", tmp_path / "b"
    for path, isa in ((a, "x86-64 AVX512-VNNI"), (b, "x86-64 AVX2")):
        shutil.copytree(RUNS / "smoke", path)
        manifest = json.loads((path / "manifest.json").read_text())
        manifest.setdefault("environment", {}).setdefault("cpu", {})["isa"] = isa
        (path / "manifest.json").write_text(json.dumps(manifest))
    (line,) = isa_warnings(load_run(a), load_run(b))
    assert line.startswith("warning: different instruction sets (A: x86-64 AVX512-VNNI; B: x86-64 AVX2)")
    assert isa_warnings(load_run(a), load_run(a)) == []


def test_compare_warns_about_unfinished_runs_and_failed_configurations(tmp_path, capsys):
    run = tmp_path / "killed"
    shutil.copytree(RUNS / "smoke", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"
    manifest["configurations"][0]["status"] = "failed"
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert main(["compare", str(RUNS / "smoke"), str(run)]) == 0
    out = capsys.readouterr().out
    assert "warning: run B is 'running', not complete" in out
    assert f"warning: run B has failed configurations: {manifest['configurations'][0]['config_id']}" in out
    assert "warning: run A" not in out
