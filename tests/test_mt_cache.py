"""The translation cache: a text read in the last N frames is not translated again; hits are recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.devices import load_device
from harness.errors import ConfigError
from harness.mt.cache import TranslationCache, cache_key
from harness.mt.null import NullMt, NullMtOptions
from harness.ocr.null import NullOcr, NullOcrOptions
from harness.pipeline import Pipeline, StageSwitches
from harness.run.experiment import load_experiment
from harness.run.runner import run_configuration
from harness.sources.synthetic import SceneOptions, SyntheticSource
from harness.store.summary import summarize
from harness.trace import Tracer
from tests.conftest import needs_apertium


class Recording:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[str]:
        self.calls.append(list(texts))
        return [f"<{t}>" for t in texts]


def test_cache_key_ignores_case_spacing_and_compatibility_forms() -> None:
    assert cache_key("  EXIT \n now") == cache_key("exit now") == cache_key("Ｅｘｉｔ now")
    assert cache_key("exit") != cache_key("exits")


def test_a_text_seen_within_n_frames_is_reused_and_expires_after() -> None:
    cache, mt = TranslationCache(max_age_frames=2), Recording()
    cache.next_frame()
    assert cache.translate(["EXIT", "No parking", "exit"], mt) == (["<EXIT>", "<No parking>", "<EXIT>"], 1)
    assert mt.calls == [["EXIT", "No parking"]]
    cache.next_frame()
    assert cache.translate(["Exit"], mt) == (["<EXIT>"], 1)  # frame 1 uses it: it lives on
    cache.next_frame()
    cache.next_frame()
    assert cache.translate(["exit", "no parking"], mt) == (["<EXIT>", "<no parking>"], 1)  # "no parking" last used in frame 0
    assert mt.calls[-1] == ["no parking"]
    cache.next_frame()
    assert cache.translate([], mt) == ([], 0) and len(mt.calls) == 2  # nothing new: no MT call at all


def test_a_backend_returning_the_wrong_count_is_an_error() -> None:
    cache = TranslationCache(1)
    cache.next_frame()
    with pytest.raises(ValueError, match="got 1 translations for 2 texts"):
        cache.translate(["a", "b"], lambda texts: ["x"])


class CountingMt(NullMt):
    def __init__(self, options: NullMtOptions, context: object = None) -> None:
        super().__init__(options, context)
        self.calls: list[list[str]] = []

    def translate(self, texts, tracer=None):
        self.calls.append(list(texts))
        return super().translate(texts, tracer)


def test_pipeline_translates_a_looping_scene_set_once_and_records_hits() -> None:
    source = SyntheticSource(SceneOptions(seed=4, n=2, difficulty="easy"))
    source.open()
    mt = CountingMt(NullMtOptions())
    pipeline = Pipeline(NullOcr(NullOcrOptions()), mt, None, StageSwitches(overlay=False, mt_cache_frames=3))
    frames = source.frames()
    spans = []
    for _ in range(6):
        tracer = Tracer()
        pipeline.step(frames, tracer)
        spans.append(next(s for s in tracer.spans if s.name == "mt"))
    translated = [text for call in mt.calls for text in call]
    assert len(translated) == len({cache_key(t) for t in translated})  # no text translated twice
    assert spans[0].attrs["cache_hits"] < spans[0].attrs["cache_lookups"]
    assert all(s.attrs["cache_hits"] == s.attrs["cache_lookups"] > 0 for s in spans[2:])


def test_a_negative_cache_size_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mt_cache_frames"):
        StageSwitches(mt_cache_frames=-1)


@needs_apertium
def test_a_run_with_apertium_and_the_cache_reports_its_hit_rate(tmp_path: Path, write_experiment) -> None:
    text = """
[run]
warmup_frames = 1
min_frames = 8
max_frames = 8
min_duration_s = 0.0
isolate = false
[stages]
overlay = false
mt_cache_frames = 30
[[sources]]
id = "s"
kind = "synthetic"
n = 2
[[ocr]]
id = "truth"
backend = "null"
[[mt]]
id = "apertium"
backend = "apertium"
"""
    experiment = load_experiment(write_experiment(text))
    outcome = run_configuration(experiment.configurations()[0], experiment, load_device("laptop"), tmp_path)
    records = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    summary = summarize(records, [{"config_id": outcome.config_id, "status": outcome.status}])
    e2e = summary[summary["stage"] == "e2e"].iloc[0]
    spans = [next(s for s in r["spans"] if s["name"] == "mt")["attrs"] for r in records if not r["warmup"]]
    assert spans[0]["cache_hits"] == 0  # scene 1 is new (the warm-up frame translated scene 0)...
    assert all(a["cache_hits"] == a["cache_lookups"] > 0 for a in spans[1:])  # ...then both scenes come from the cache
    assert e2e["mt_cache_hit_rate"] == pytest.approx(sum(a["cache_hits"] for a in spans) / sum(a["cache_lookups"] for a in spans))
