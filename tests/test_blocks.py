"""Sign blocks: the lines of one sign are one segment for the translator, and come back as lines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.layout.blocks import group, split
from harness.mt.apertium import Apertium, ApertiumOptions
from harness.mt.null import NullMt, NullMtOptions
from harness.ocr.null import NullOcr, NullOcrOptions
from harness.pipeline import Pipeline, StageSwitches
from harness.trace import Tracer
from harness.types import Frame, GroundTruth, GroundTruthWord, TextRegion
from tests.conftest import needs_apertium


def box(x: float, y: float, w: float, h: float, text: str, angle_deg: float = 0.0, about=(0.0, 0.0)) -> TextRegion:
    corners = np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], dtype=float) - about
    turn = math.radians(angle_deg)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    quad = corners @ rotation.T + about
    return TextRegion(tuple(map(tuple, quad)), text, 1.0)  # type: ignore[arg-type]


def texts(regions: list[TextRegion], blocks: list[list[int]]) -> list[list[str]]:
    return [[regions[i].text for i in block] for block in blocks]


def test_stacked_lines_of_one_sign_are_one_block_in_reading_order() -> None:
    regions = [box(100, 160, 150, 40, "train"), box(110, 100, 120, 40, "Next")]
    assert texts(regions, group(regions)) == [["Next", "train"]]


def test_words_of_one_line_join_and_far_or_differently_sized_text_stays_apart() -> None:
    regions = [
        box(420, 100, 90, 30, "exit"), box(300, 100, 110, 30, "Emergency"),  # one line, a word gap apart
        box(300, 400, 200, 30, "Toilets"),  # another sign further down
        box(700, 100, 60, 8, "small print"),  # beside it, far smaller and too far along
        box(305, 138, 100, 12, "tiny caption"),  # right under the first line, but a third of its height
    ]  # fmt: skip
    assert texts(regions, group(regions)) == [["Emergency", "exit"], ["small print"], ["tiny caption"], ["Toilets"]]


def test_a_rotated_sign_groups_as_the_upright_one() -> None:
    upright = [box(300, 200, 160, 40, "Wet"), box(300, 250, 160, 40, "floor")]
    for angle in (-25.0, 20.0):
        turned = [box(300, 200, 160, 40, "Wet", angle, (380, 245)), box(300, 250, 160, 40, "floor", angle, (380, 245))]
        assert texts(turned, group(turned)) == texts(upright, group(upright)) == [["Wet", "floor"]]


def test_split_shares_the_words_out_in_order_and_loses_none() -> None:
    assert split("Tren próximo", ["Next", "train"]) == ["Tren", "próximo"]
    pieces = split("Por favor pida en el mostrador", ["Please order", "at the counter"])
    assert " ".join(pieces) == "Por favor pida en el mostrador" and all(pieces)
    assert split("Salida", ["Emergency", "exit"]) in (["Salida", ""], ["", "Salida"])
    assert split("una dos", ["one two"]) == ["una dos"]


def _sign() -> Frame:
    words = (GroundTruthWord(box(110, 100, 120, 40, "Next").quad, "Next"), GroundTruthWord(box(100, 160, 150, 40, "train").quad, "train"))
    truth = GroundTruth(words, "Next train", "Próximo tren")
    return Frame(0, 0, np.zeros((300, 400, 3), np.uint8), ground_truth=truth)


def test_the_pipeline_translates_a_block_once_and_a_line_each_in_line_mode() -> None:
    calls: list[list[str]] = []

    class Recording(NullMt):
        def translate(self, texts, tracer=None):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return [t.upper() for t in texts]

    for unit, expected in (("block", [["Next train"]]), ("line", [["Next", "train"]])):
        calls.clear()
        pipeline = Pipeline(NullOcr(NullOcrOptions()), Recording(NullMtOptions()), None, StageSwitches(overlay=False, mt_unit=unit))
        result = pipeline.step(iter([_sign()]), Tracer())
        assert calls == expected
        assert result is not None and " ".join(result.targets or []) == "NEXT TRAIN"
        assert [r.text for r in result.regions] == ["Next", "train"]


@needs_apertium
def test_apertium_translates_a_two_line_sign_as_the_phrase_it_is() -> None:
    mt = Apertium(ApertiumOptions())
    try:
        by_unit = {}
        for unit in ("block", "line"):
            pipeline = Pipeline(NullOcr(NullOcrOptions()), mt, None, StageSwitches(overlay=False, mt_unit=unit))
            result = pipeline.step(iter([_sign()]), Tracer())
            assert result is not None
            by_unit[unit] = " ".join(result.targets or [])
        assert by_unit["block"] == mt.translate(["Next train"])[0]
        assert by_unit["line"] == " ".join(mt.translate(["Next", "train"]))
        assert by_unit["block"] != by_unit["line"]
        assert result.accuracy["mt_chrf"] is not None
    finally:
        mt.close()


def test_mt_unit_is_checked() -> None:
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="mt_unit must be one of block, line"):
        StageSwitches(mt_unit="sentence")


def test_an_mt_entry_may_translate_lines_in_a_block_experiment(tmp_path) -> None:
    from harness.errors import ConfigError
    from harness.run.experiment import load_experiment
    from harness.testing.experiments import NULL_MT, write_experiment

    lines = {**NULL_MT, "id": "lines", "unit": "line"}
    experiment = load_experiment(write_experiment(tmp_path / "e.toml", mt=[NULL_MT, lines]))
    units = {c.mt.id: c.mt.stages(experiment.stages).mt_unit for c in experiment.configurations()}
    assert units == {"null": "block", "lines": "line"}
    assert next(c for c in experiment.configurations() if c.mt.id == "lines").describe()["mt"]["unit"] == "line"
    with pytest.raises(ConfigError, match="`unit` must be one of block, line"):
        load_experiment(write_experiment(tmp_path / "bad.toml", mt=[{**NULL_MT, "unit": "word"}]))
