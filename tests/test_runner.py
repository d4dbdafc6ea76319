"""The runner in-process: warm-up apart from measurement, the stopping rule, failures recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.devices import load_device
from harness.registry import PLUGINS
from harness.run.experiment import load_experiment
from harness.run.runner import run_configuration
from harness.testing.backends import FAULTY_MT

EXPERIMENT = """
[run]
warmup_frames = 2
min_frames = 5
min_duration_s = 0.0
max_frames = 7
isolate = false

[stages]
overlay = false

[[sources]]
id = "synth"
kind = "synthetic"
n = 3

[[ocr]]
id = "null"
backend = "null"

[[mt]]
id = "m"
backend = "{mt}"
"""


def run(tmp_path: Path, write_experiment, mt: str, options: str = ""):
    experiment = load_experiment(write_experiment(EXPERIMENT.format(mt=mt) + options))
    outcome = run_configuration(experiment.configurations()[0], experiment, load_device("laptop"), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    return outcome, records


def test_warmup_is_stored_but_apart_and_minimums_stop_the_run(tmp_path: Path, write_experiment) -> None:
    outcome, records = run(tmp_path, write_experiment, "null")
    assert [r["warmup"] for r in records] == [True, True, False, False, False, False, False]
    assert [r["seq"] for r in records] == list(range(7))
    assert (outcome.status, outcome.warmup_frames, outcome.measured_frames) == ("complete", 2, 5)
    assert outcome.stop_reason == "minimums_met"
    assert outcome.validity == {"min_frames_met": True, "min_duration_met": True}


def test_repeated_frame_failures_fail_the_configuration(tmp_path: Path, write_experiment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PLUGINS["mt"], "faulty", FAULTY_MT)
    outcome, records = run(tmp_path, write_experiment, "faulty", "good = 3\n")
    assert outcome.status == "failed"
    assert "3 frames failed in a row; last: mt: RuntimeError: out of memory" in (outcome.reason or "")
    assert [r["ok"] for r in records] == [True, True, True, False, False, False]
    assert records[-1]["error"] == "mt: RuntimeError: out of memory"
    assert [s["name"] for s in records[-1]["spans"]] == ["capture", "ocr", "mt"]


def test_all_frames_measures_every_frame_of_the_source_once_after_the_warmup(tmp_path: Path, write_experiment) -> None:
    text = EXPERIMENT.format(mt="null").replace("min_frames = 5", "all_frames = true\nmin_frames = 1")
    text = text.replace("n = 3", "n = 3\nloop = false")
    experiment = load_experiment(write_experiment(text))
    outcome = run_configuration(experiment.configurations()[0], experiment, load_device("laptop"), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert [(r["warmup"], r["frame_id"]) for r in records] == [(True, 0), (True, 1), (False, 0), (False, 1), (False, 2)]
    assert (outcome.stop_reason, outcome.validity) == ("source_exhausted", {"all_frames_measured": True})


def test_optional_components_missing_here_are_skipped_with_their_reason(write_experiment) -> None:
    from harness.errors import ConfigError, DataMissing
    from harness.run.preflight import preflight

    base = EXPERIMENT.format(mt="null").replace('[[ocr]]\nid = "null"\nbackend = "null"', "")
    absent = '[[ocr]]\nid = "gone"\nbackend = "rapidocr"\nrec_model = "/nonexistent/rec.onnx"\n'
    experiment = load_experiment(write_experiment(base + absent + 'optional = true\n[[ocr]]\nid = "null"\nbackend = "null"\n'))
    kept = preflight(experiment, load_device("laptop"))
    assert [c.ocr.id for c in kept.configurations()] == ["null"]
    assert kept.skipped[0][0] == "gone" and "/nonexistent/rec.onnx" in kept.skipped[0][1]
    with pytest.raises(DataMissing, match=r"rec\.onnx"):  # not optional: a one-line error before the run
        preflight(load_experiment(write_experiment(base + absent)), load_device("laptop"))
    with pytest.raises(DataMissing, match="no ocr backend of the experiment is available here"):
        preflight(load_experiment(write_experiment(base + absent + "optional = true\n")), load_device("laptop"))
    with pytest.raises(ConfigError, match="set loop = false on source 'synth'"):
        looping = base.replace("min_frames = 5", "all_frames = true\nmin_frames = 1") + '[[ocr]]\nid = "null"\nbackend = "null"\n'
        preflight(load_experiment(write_experiment(looping)), load_device("laptop"))


ROUNDS = """
[run]
warmup_frames = 1
min_frames = 3
min_duration_s = 0.0
max_frames = 3
isolate = false
rounds = 3

[stages]
overlay = false

[[sources]]
id = "synth"
kind = "synthetic"
n = 4

[[ocr]]
id = "null"
backend = "null"

[[mt]]
id = "a"
backend = "null"

[[mt]]
id = "b"
backend = "null"
"""


def test_rounds_alternate_the_order_and_pool_each_configurations_frames(tmp_path: Path, write_experiment) -> None:
    import pandas as pd

    from harness.run.orchestrate import round_order, run_experiment

    assert [round_order(3, r) for r in range(3)] == [[0, 1, 2], [2, 1, 0], [0, 1, 2]]
    experiment = load_experiment(write_experiment(ROUNDS))
    run_dir = run_experiment(experiment, load_device("laptop"), tmp_path / "results")
    records = [json.loads(line) for line in (run_dir / "frames.jsonl").read_text().splitlines()]
    ran = [(r["round"], r["config_id"].rsplit("/", 1)[1]) for r in records if r["seq"] == 0]
    assert ran == [(0, "a"), (0, "b"), (1, "b"), (1, "a"), (2, "a"), (2, "b")]  # forward, backward, forward
    measured = [(r["round"], r["frame_id"]) for r in records if r["config_id"] == "synth/null/a" and not r["warmup"]]
    assert measured == [(r, f) for r in range(3) for f in (1, 2, 3)]  # every round measures the same frames again
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for outcome in manifest["configurations"]:
        assert (outcome["status"], outcome["warmup_frames"], outcome["measured_frames"]) == ("complete", 3, 9)
        assert outcome["stop_reason"] == "max_frames" and all(outcome["validity"].values())  # the first round's rule
    summary = pd.read_csv(run_dir / "summary.csv").set_index(["config_id", "stage"])
    e2e = summary.loc[("synth/null/a", "e2e")]
    assert e2e["n"] == 9
    harness_gaps = summary.loc[("synth/null/a", "harness"), "n"]
    assert harness_gaps == 3 * 2  # gaps within each round's three measured frames, never across rounds
    assert e2e["throughput_fps"] < 1e5  # the minutes between rounds are not part of it
    assert e2e["p50_round_spread_pct"] >= 0.0
    from harness.store.summary import once_per_frame

    mine = [r for r in records if r["config_id"] == "synth/null/a"]
    assert [(r["round"], r["frame_id"]) for r in once_per_frame(mine)] == [(0, 1), (0, 2), (0, 3)]  # accuracy: each frame once
    from harness.report.dataset import Dataset
    from harness.store.reader import load_run

    [series] = [s for s in Dataset.from_runs([load_run(run_dir)]).series if s.config_id == "synth/null/a"]
    for stage in ("e2e", "mt"):  # the figures' bootstraps draw a frame's readings together
        assert len(series.stage_frames(stage)) == len(series.stage_ms(stage)) == 9
        assert [frame for _, frame in series.stage_frames(stage)] == [1, 2, 3] * 3  # each reading's own frame, in order
    from harness.report.compare import compare_runs, compare_table

    run = load_run(run_dir)
    changes, _ = compare_runs(run, run)
    [e2e] = [c for c in changes if c.config_id == "synth/null/a" and c.stage == "e2e"]
    assert (e2e.n_a, e2e.frames_a, e2e.test, e2e.ratio) == (9, 3, "Wilcoxon", 1.0)  # the same frames: paired
    assert np.isnan(e2e.ratio_low)  # 3 frames read 3 times: too few frames for an interval
    assert ["9 (3 frames)", "9 (3 frames)"] in [row[2:4] for row in compare_table(changes, run, run).rows]


def test_later_rounds_read_as_many_frames_as_the_first_whatever_their_speed(tmp_path: Path, write_experiment) -> None:
    from harness.run.orchestrate import run_experiment

    text = ROUNDS.replace("min_frames = 3", "min_frames = 1").replace("min_duration_s = 0.0", "min_duration_s = 0.3")
    experiment = load_experiment(write_experiment(text.replace("max_frames = 3", "max_frames = 100000")))
    run_dir = run_experiment(experiment, load_device("laptop"), tmp_path / "results")
    records = [json.loads(line) for line in (run_dir / "frames.jsonl").read_text().splitlines()]
    for config in ("synth/null/a", "synth/null/b"):
        ids = [[r["frame_id"] for r in records if r["config_id"] == config and r["round"] == n and not r["warmup"]] for n in range(3)]
        assert len(ids[0]) > 1 and ids[0] == ids[1] == ids[2]  # the first round's duration rule, then its frames exactly
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {o["stop_reason"] for o in manifest["configurations"]} == {"minimums_met"}


def test_rounds_need_a_stretchable_scenario(tmp_path: Path, write_experiment) -> None:
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="rounds = 2 needs scenario single-stream or offline"):
        load_experiment(write_experiment(ROUNDS.replace("rounds = 3", 'rounds = 2\nscenario = "camera-paced"\nsource_fps = 5.0')))
    with pytest.raises(ConfigError, match="rounds must be 1 or more"):
        load_experiment(write_experiment(ROUNDS.replace("rounds = 3", "rounds = 0")))
    camera = ROUNDS.replace('id = "synth"\nkind = "synthetic"\nn = 4', 'id = "cam"\nkind = "camera"')
    with pytest.raises(ConfigError, match=r"reads the same frames again, which a live source \(cam\) cannot"):
        load_experiment(write_experiment(camera))


def test_overlays_that_cannot_be_written_are_counted_not_lost_silently(tmp_path) -> None:
    import numpy as np

    from harness.run.experiment import RunSettings
    from harness.run.outcome import Outcome
    from harness.run.runner import _finish, _save_overlays
    from harness.types import Frame, FrameResult

    results = [FrameResult(Frame(i, 0, None, name=f"f{i}"), [], None, np.zeros((8, 8, 3), np.uint8)) for i in range(3)]
    assert _save_overlays(results, tmp_path / "fine", "a/b/c") == 0 and len(list((tmp_path / "fine").rglob("*.png"))) == 3
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "overlays").write_text("a file where the folder should be")  # as a full or read-only disk refuses the folder
    outcome = Outcome("a/b/c", status="running", measured_frames=5, measured_s=1.0, stop_reason="max_frames")
    _finish(outcome, RunSettings(min_frames=5, min_duration_s=0.0), _save_overlays(results, blocked, "a/b/c"), len(results))
    assert outcome.status == "complete" and outcome.validity["overlays_saved"] is False
    assert outcome.reason == "3 of 3 overlay images could not be written (disk full or not writable?)"
