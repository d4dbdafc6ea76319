"""Paper figures from stored runs (tests/fixtures/runs: real short runs, overlays removed; see their README)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.cli import main
from harness.errors import UserError
from harness.report.dataset import Dataset, Series, short_labels
from harness.report.fig_system import _crossover
from harness.report.fig_tradeoffs import _accuracy_change, pareto_front, undominated_beyond_ci
from harness.report.figures import FIGURES, Drawn, Skipped, draw_all, figures_command, latest_run, write_figures
from harness.report.pairs import Pair, precision_pairs
from harness.report.style import legend_columns
from harness.store.reader import load_run

RUNS = Path(__file__).parent / "fixtures" / "runs"
NAMES = [name for name, _, _ in FIGURES]
UNIT = re.compile(r"\([^)]+\)")


def copy_run(name: str, target: Path) -> Path:
    shutil.copytree(RUNS / name, target)
    return target


def rewrite_manifest(run_dir: Path, change) -> None:
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def rewrite_frames(run_dir: Path, change) -> None:
    path = run_dir / "frames.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(change(r)) + "\n" for r in records))


def by_name(results: list[Drawn | Skipped]) -> dict[str, Drawn | Skipped]:
    return {r.name: r for r in results}


@pytest.fixture(scope="module")
def drawn_fixtures() -> dict[str, dict[str, Drawn | Skipped]]:
    return {name: by_name(draw_all([load_run(RUNS / name)])) for name in ("smoke", "quant-tiny", "smoke-offload")}


def with_energy(tmp_path: Path) -> Path:
    """The smoke run with per-frame energy added as the store documents it (5 W gross, 3 W net over every span)."""
    run_dir = copy_run("smoke", tmp_path / "energy")

    def add(record):
        spans = {s["name"]: (s["end_ns"] - s["start_ns"]) / 1e9 for s in record["spans"]}
        e2e = (max(s["end_ns"] for s in record["spans"]) - record["spans"][0]["start_ns"]) / 1e9
        record["energy"] = {name: {"gross_j": 5.0 * t, "net_j": 3.0 * t, "coverage": 1.0} for name, t in {**spans, "e2e": e2e}.items()}
        return record

    rewrite_frames(run_dir, add)
    rewrite_manifest(run_dir, lambda m: m["validity"].update(energy="available"))
    return run_dir


def test_every_figure_is_drawn_or_skipped_with_a_one_line_reason(drawn_fixtures):
    for results in drawn_fixtures.values():
        assert list(results) == NAMES
        for result in results.values():
            if isinstance(result, Skipped):
                assert result.reason and "\n" not in result.reason
    assert isinstance(drawn_fixtures["quant-tiny"]["quantization"], Drawn)
    assert isinstance(drawn_fixtures["smoke-offload"]["offload"], Drawn)
    assert "offload placements" in drawn_fixtures["smoke"]["offload"].reason
    assert "energy" in drawn_fixtures["smoke"]["energy_by_stage"].reason
    assert "one device" in drawn_fixtures["smoke"]["devices"].reason


def test_axes_carry_labels_with_units(drawn_fixtures):
    for results in drawn_fixtures.values():
        for result in results.values():
            if not isinstance(result, Drawn):
                continue
            axes = result.figure.axes
            assert axes[0].get_ylabel(), result.name
            for ax in axes:
                spec = ax.get_subplotspec()
                if spec is not None and not spec.is_last_row():
                    continue  # rows share their x axis with the labelled bottom row
                assert ax.get_xlabel(), result.name
                assert UNIT.search(ax.get_xlabel()) or UNIT.search(ax.get_ylabel()), (result.name, ax.get_xlabel(), ax.get_ylabel())
            sizes = [
                t.get_fontsize() for ax in axes for t in [ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]
            ]
            assert min(sizes) >= 7, result.name


def test_no_figure_drops_a_configuration_silently(drawn_fixtures):
    for name, results in drawn_fixtures.items():
        labels = [s.label for s in Dataset.from_runs([load_run(RUNS / name)]).series]
        for result in results.values():
            if isinstance(result, Drawn) and result.name not in ("quantization", "devices"):
                missing = [label for label in labels if label not in result.series and not any(label in n for n in result.notes)]
                assert not missing, (name, result.name, missing)
        stage = results["stage_latency"]
        ax = stage.figure.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == labels
        parts = len(ax.get_legend_handles_labels()[0])
        assert len(ax.patches) == parts * len(labels)
        cdf = results["latency_cdf"].figure.axes[0]
        assert len([line for line in cdf.get_lines() if len(line.get_xdata()) > 1]) == len(labels)


def test_pareto_has_one_marker_per_configuration_and_a_front(drawn_fixtures):
    result = drawn_fixtures["quant-tiny"]["pareto"]
    ax = result.figure.axes[0]
    points = [line for line in ax.get_lines() if line.get_marker() not in ("|", "_", "None", None, "")]  # not error-bar caps
    assert len(points) == 2  # one marker per configuration
    assert [t.get_text() for t in result.figure.legends[0].get_texts()] == ["ort-fp32", "ort-int8", "on the front", "dominated"]
    assert [line.get_markerfacecolor() == "white" for line in points] == [True, False]  # fp32 dominated, int8 on the front
    front = {row[0]: row[-1] for row in result.table.rows}
    assert "latency" in front["ort-int8"] and front["ort-fp32"] == "–"  # same accuracy, int8 faster and smaller
    assert len(result.figure.axes) == 2  # latency and model size (the two differ in model files)


def test_pareto_scores_each_source_by_its_own_metric(tmp_path):
    # Two sources: synthetic signs with reference translations (chrF) and the same frames without (word hmean).
    second = copy_run("quant-tiny", tmp_path / "two")
    for name in ("manifest.json", "frames.jsonl", "summary.csv"):  # int8 now reads another source
        path = second / name
        path.write_text(path.read_text().replace("synth-easy/ort-int8", "photos/ort-int8"))

    def add_translation(record):
        if record["config_id"].startswith("synth-easy") and isinstance(record.get("accuracy"), dict):
            record["accuracy"]["mt_chrf"] = 40.0 + record["seq"] % 7
        return record

    rewrite_frames(second, add_translation)
    run = load_run(second)
    result = by_name(draw_all([run]))["pareto"]
    assert isinstance(result, Drawn)
    assert len(result.figure.axes) == 4  # two sources (rows) × latency and model size
    assert {row[0]: row[1] for row in result.table.rows} == {"synth-easy/ort-fp32": "mt_chrf", "photos/ort-int8": "e2e_hmean"}
    assert [ax.get_title(loc="left") for ax in result.figure.axes[::2]] == ["synth-easy", "photos"]
    assert "chrF" in result.figure.axes[0].get_ylabel() and "hmean" in result.figure.axes[2].get_ylabel()


@pytest.mark.faults
def test_a_killed_run_without_summary_or_validity_still_draws(tmp_path):
    run_dir = copy_run("smoke", tmp_path / "killed")
    (run_dir / "summary.csv").unlink()
    rewrite_manifest(run_dir, lambda m: (m.pop("validity"), m.update(status="running")))
    results = by_name(draw_all([load_run(run_dir)]))
    assert isinstance(results["stage_latency"], Drawn)
    assert results["energy_by_stage"].reason == "no energy in these runs"


def test_pareto_front_rules():
    assert pareto_front([1, 2, 3], [0.5, 0.9, 0.8]) == [0, 1]
    assert pareto_front([1, 2], [0.5, 0.5]) == [0]
    assert pareto_front([1, 2], [0.2, 0.1], higher_is_better=False) == [0, 1]  # error rates: lower is better
    assert pareto_front([1, 2], [0.1, 0.2], higher_is_better=False) == [0]
    assert pareto_front([1, float("nan")], [0.5, 0.9]) == [0]


def test_quantized_pairs_come_from_resolved_options_or_ids(tmp_path):
    run = load_run(RUNS / "quant-tiny")
    pairs = precision_pairs(Dataset.from_runs([run]).series)
    assert [(p.full.label, p.quant.label, p.stage, p.precision, p.label) for p in pairs] == [
        ("ort-fp32", "ort-int8", "ocr", "int8", "ort-int8 vs fp32")
    ]
    bare = copy_run("quant-tiny", tmp_path / "bare")
    rewrite_manifest(bare, lambda m: m["experiment"].pop("resolved"))
    pairs = precision_pairs(Dataset.from_runs([load_run(bare)]).series)
    assert [(p.full.config_id, p.quant.config_id) for p in pairs] == [("synth-easy/ort-fp32/off", "synth-easy/ort-int8/off")]
    table = by_name(draw_all([run]))["quantization"].table
    speedup = float(table.rows[0][2])
    assert speedup > 1.0  # int8 detection and recognition are faster than fp32 on this CPU


def _series(label: str, frames: dict[int, dict]) -> Series:
    measured = {"source": "synthetic:easy", "spans": [], "warmup": False, "ok": True}
    records = [{**measured, "frame_id": i, "accuracy": a} for i, a in frames.items()]
    return Series(label, label, None, "laptop", records, pd.DataFrame())  # type: ignore[arg-type]


def test_quantization_scores_an_mt_pair_by_chrf_on_the_frames_both_measured():
    # The OCR scores are the same (same OCR model) and would say nothing; chrF moves on frames 1 and 2.
    ocr = {"e2e_correct": 1, "det_gt_care": 1, "det_det_care": 1}
    full = _series("float32", {i: {**ocr, "mt_chrf": 50.0 + i} for i in range(0, 30)})
    quant = _series("int8", {i: {**ocr, "mt_chrf": 50.0 + i - (3.0 if i in (1, 2) else 0.0)} for i in range(1, 40)})
    change = _accuracy_change(Pair(full, quant, "mt", "int8"))
    assert change.metric is not None and change.metric.column == "mt_chrf" and change.paired and change.frames == 29
    assert change.points[0] == pytest.approx(-6.0 / 29)  # paired: frames 30-39, measured by int8 only, are left out
    assert change.points[1] < change.points[0] <= change.points[2] <= 0.0
    ocr_only = _series("int8", {i: dict(ocr) for i in range(1, 40)})
    missing = _accuracy_change(Pair(full, ocr_only, "mt", "int8"))
    assert missing.metric is None and missing.reason == "no reference translation"


def test_quantization_puts_error_rates_in_points_where_higher_is_better():
    full = _series("fp32", {i: {"ocr_cer": 0.10} for i in range(20)})
    quant = _series("int8", {i: {"ocr_cer": 0.12} for i in range(20)})
    change = _accuracy_change(Pair(full, quant, "ocr", "int8"))
    assert change.metric.column == "ocr_cer" and change.points[0] == pytest.approx(-2.0)  # 2 CER points worse


def test_energy_figure_stacks_gross_and_net(tmp_path):
    run = load_run(with_energy(tmp_path))
    result = by_name(draw_all([run]))["energy_by_stage"]
    assert isinstance(result, Drawn)
    gross, net = result.figure.axes
    assert "gross" in gross.get_xlabel() and "net" in net.get_xlabel()
    rows = {row[1]: row for row in result.table.rows}
    assert float(rows["gross"][-2]) == pytest.approx(float(rows["net of idle"][-2]) * 5 / 3, rel=0.01)
    pareto = by_name(draw_all([run]))["pareto"]
    assert any("Energy per frame" in ax.get_xlabel() for ax in pareto.figure.axes)


def test_devices_side_by_side(tmp_path):
    first = copy_run("smoke", tmp_path / "a")
    second = copy_run("smoke", tmp_path / "b")
    rewrite_manifest(second, lambda m: m["device"].update(name="rpi5"))  # the same stored run, named as a second device
    result = by_name(draw_all([load_run(first), load_run(second)]))["devices"]
    assert isinstance(result, Drawn)
    ax = result.figure.axes[0]
    assert [t.get_text() for t in result.figure.legends[0].get_texts()] == ["laptop", "rpi5"]
    assert len(ax.patches) == 2  # one configuration, two devices
    assert [row[1] for row in result.table.rows] == ["laptop", "rpi5"]


def test_offload_figure_shows_every_placement_and_its_bytes(drawn_fixtures):
    result = drawn_fixtures["smoke-offload"]["offload"]
    latency, data = result.figure.axes[:2]
    assert len(latency.patches) == 4
    assert [t.get_text().split("\n")[0] for t in data.get_xticklabels()] == ["local", "cloud", "det-local", "ocr-local"]
    sent = {row[1]: float(row[5]) for row in result.table.rows}
    assert sent["local"] == 0 and sent["cloud"] > sent["det-local"] > sent["ocr-local"]


def test_offload_figure_says_what_the_shaping_could_not_apply(tmp_path):
    run_dir = copy_run("smoke-offload", tmp_path / "no-netem")
    summary = pd.read_csv(run_dir / "summary.csv")
    summary.loc[summary["stage"] == "e2e", "network_note"] = "netem unavailable: delay/loss not applied"
    summary.to_csv(run_dir / "summary.csv", index=False)
    result = by_name(draw_all([load_run(run_dir)]))["offload"]
    assert "netem unavailable: delay/loss not applied" in result.notes
    assert result.figure.axes[0].get_title(loc="left") == "netem unavailable: delay/loss not applied"
    labels = [t.get_text() for t in result.figure.axes[1].texts]
    assert len(labels) == 4 and all(label.endswith(" kB") for label in labels)  # every placement's bytes, as a number


def test_crossover_is_interpolated_on_a_log_axis():
    assert _crossover(np.array([1.0, 100.0]), np.array([300.0, 100.0]), 200.0) == pytest.approx(10.0)
    assert _crossover(np.array([1.0, 100.0]), np.array([300.0, 250.0]), 200.0) is None


def test_files_are_valid_pdf_and_png_with_tables(tmp_path, drawn_fixtures):
    lines = write_figures(list(drawn_fixtures["quant-tiny"].values()), tmp_path)
    assert any(line.startswith("skipped offload:") for line in lines)
    for name in ("stage_latency", "latency_cdf", "pareto", "quantization"):
        pdf = (tmp_path / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        offset = int(re.search(rb"startxref\s+(\d+)", pdf[-64:]).group(1))
        assert pdf[offset : offset + 4] == b"xref"
        assert b"/FontFile2" in pdf and b"/Type3" not in pdf  # TrueType (Type 42) fonts embedded, no Type 3
        with Image.open(tmp_path / f"{name}.png") as image:
            image.verify()
        with Image.open(tmp_path / f"{name}.png") as image:
            assert image.size[0] >= 3.0 * 300  # at least a single column at 300 dpi
        tex = (tmp_path / f"{name}.tex").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex and "_" not in tex.replace(r"\_", "")
        assert "|---" in (tmp_path / f"{name}.md").read_text()


def test_cli_figures_default_latest_and_several_runs(tmp_path, capsys):
    root = tmp_path / "results"
    copy_run("smoke", root / "laptop" / "20260101T000000Z-aaaa")
    newest = copy_run("quant-tiny", root / "laptop" / "20260102T000000Z-bbbb")
    assert latest_run(root) == newest
    assert main(["figures", "--results", str(root)]) == 0
    assert (newest / "figures" / "quantization.pdf").is_file()
    assert "skipped devices" in capsys.readouterr().out
    with pytest.raises(UserError, match="--out"):
        figures_command([newest, newest], None, root)
    assert main(["figures", "--results", str(tmp_path / "nothing")]) == 2


def test_labels_drop_shared_parts_and_keep_placements():
    assert short_labels(["a/x/m", "b/x/m"]) == (["a", "b"], "x/m")
    assert short_labels(["a/x/m", "a/x/m+cloud@lo"]) == (["local", "cloud@lo"], "a/x/m")
    assert short_labels(["a/x/m"]) == (["a"], "x/m")


def test_legend_columns_fit_the_width():
    assert legend_columns(["a", "b", "c"], 3.5) == 3
    long = ["offload.roundtrip", "offload.encode", "offload.decode", "capture", "ocr.det", "ocr.rec", "mt", "overlay", "ocr.cls"]
    assert 1 < legend_columns(long, 3.5) < len(long)


def test_a_front_needs_separation_beyond_the_cis():
    x, y = [100.0, 120.0, 300.0], [0.40, 0.42, 0.41]
    narrow = [(95.0, 105.0), (115.0, 125.0), (290.0, 310.0)]
    wide = [(0.30, 0.50), (0.32, 0.52), (0.31, 0.51)]
    # as measured, 0 and 1 are the front and 2 is dominated; beyond the CIs, 2 is slower beyond doubt and no
    # better beyond doubt, so it stays dominated, while 1's higher accuracy is noise: 0 does not beat 1 either
    assert pareto_front(x, y) == [0, 1]
    assert undominated_beyond_ci(x, narrow, y, wide) == [0, 1]
    overlapping = [(90.0, 320.0)] * 3  # latencies indistinguishable as well: nothing is beaten
    assert undominated_beyond_ci(x, overlapping, y, wide) == [0, 1, 2]
    tight = [(0.399, 0.401), (0.419, 0.421), (0.300, 0.301)]
    assert undominated_beyond_ci(x, narrow, [0.40, 0.42, 0.30], tight) == [0, 1]
    unknown = [(float("nan"), float("nan"))] * 3  # no CI: nothing can be separated
    assert undominated_beyond_ci(x, unknown, y, unknown) == [0, 1, 2]


def test_the_quantization_table_names_every_metric_that_moved_beyond_its_ci():
    from harness.report.columns import ACCURACY_METRICS
    from harness.report.fig_tradeoffs import _AccuracyChange, _beyond_ci

    metric = {m.column: m for m in ACCURACY_METRICS}
    changes = [
        _AccuracyChange(metric["e2e_hmean"], (0.0, -0.4, 0.4), 200, True),  # the panel's metric did not move
        _AccuracyChange(metric["ocr_word_recall"], (-0.5, -1.5, 0.5), 200, True),  # moved within noise
        _AccuracyChange(metric["ocr_wer"], (-3.2, -5.0, -1.4), 200, True),  # more word errors, beyond the CI
    ]
    assert _beyond_ci(changes) == "WER -3.20 (-5.00–-1.40)"
    assert _beyond_ci(changes[:2]) == "–"
