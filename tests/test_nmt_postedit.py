"""The teacher's courtesy "please" → "Complacer" is corrected where the training options ask for it, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.models.recipes.nmt.postedit import please, post_edit


@pytest.mark.parametrize(
    ("en", "apertium", "edited"),
    [
        ("Please do not touch.", "Complacer no toca.", "Por favor, no toca."),
        ("Please.", "Complacer.", "Por favor."),
        ("Unable to display. Please apply a filter.", "Incapaz de mostrar. Complacer aplicar un filtro.",
         "Incapaz de mostrar. Por favor, aplicar un filtro."),
        ("Select one song only please.", "Selecciona una canción sólo complace.", "Selecciona una canción sólo por favor."),
        ("For details please refer to", "Para los detalles complacen referir a", "Para los detalles por favor referir a"),
        ("PLEASE WAIT", "COMPLACER ESPERA", "POR FAVOR ESPERA"),
        ("Please, please stop", "Complacer, complacer parada", "Por favor, por favor parada"),
    ],
)
def test_a_courtesy_please_becomes_por_favor(en: str, apertium: str, edited: str) -> None:
    assert please(en, apertium) == edited


@pytest.mark.parametrize(
    ("en", "apertium"),
    [
        ("You cannot please everyone.", "No puedes complacer todo el mundo."),  # the verb
        ("We aim to please!", "Apuntamos para complacer!"),
        ("The addition of flowers created a pleasing effect.", "La adición de flores creó un efecto de complacer."),
        ("Please wait", "Espera, por favor"),  # nothing of the teacher's to correct
    ],
)
def test_the_verb_and_other_words_stay(en: str, apertium: str) -> None:
    assert please(en, apertium) == apertium


def test_only_as_many_replacements_as_courtesies() -> None:
    assert please("Please try to please them.", "Complacer prueba para complacer les.") == "Por favor, prueba para complacer les."


def test_human_spanish_is_never_edited() -> None:
    assert post_edit("Please wait", "Complacer espera", "backtranslated", ("please",)) == "Complacer espera"
    assert post_edit("Please wait", "Complacer espera", "signs", ()) == "Complacer espera"
    assert post_edit("Please wait", "Complacer espera", "signs", ("please",)) == "Por favor, espera"


def test_training_pairs_edit_the_same_sample_and_count_it(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from harness.models.recipes.nmt.train import TrainOptions, read_pairs, training_pairs

    (tmp_path / "train.tsv").write_text("Please wait\tEspere, por favor\n")
    rows = [(f"Please wait {i}", f"Complacer espera {i}", "ui" if i % 2 else "backtranslated") for i in range(200)]
    (tmp_path / "distilled.tsv").write_text("".join("\t".join(row) + "\n" for row in rows))
    sources = ("ui", "backtranslated")
    plain, counts, edited = training_pairs(tmp_path, TrainOptions(distilled_sources=sources, source_weights={"ui": 0.5}))
    fixed, fixed_counts, fixed_edited = training_pairs(
        tmp_path, TrainOptions(distilled_sources=sources, source_weights={"ui": 0.5}, teacher_post_edits=("please",))
    )
    assert edited == {} and counts == fixed_counts and [en for en, _ in plain] == [en for en, _ in fixed]
    assert fixed_edited == {"ui": counts["ui"], "backtranslated": 0} and 30 < counts["ui"] < 70
    assert plain[0] == fixed[0] == ("Please wait", "Espere, por favor")  # collect.py's human pair
    assert all(es.startswith("Por favor, espera") for en, es in fixed[1 : 1 + counts["ui"]])
    assert all(es.startswith("Complacer") for en, es in fixed[1 + counts["ui"] :])
    valid = read_pairs(tmp_path / "distilled.tsv", ("ui",), ("please",))
    assert len(valid) == 100 and all(es.startswith("Por favor, espera") for _, es in valid)


def test_an_unknown_edit_is_one_clear_error() -> None:
    pytest.importorskip("torch")
    from harness.models.recipes.nmt.train import TrainOptions

    with pytest.raises(SystemExit, match="unknown teacher_post_edits \\['thanks'\\]; known: \\['closed', 'please'\\]"):
        TrainOptions(teacher_post_edits=("thanks",))


def test_the_card_names_the_runs_that_corrected_the_teacher() -> None:
    from harness.models.recipes.nmt.card import post_edits

    first = {"options": {"distilled_sources": ["ui"]}}
    later = {"options": {"distilled_sources": ["ui", "signs"], "schedule_offset_steps": 9000, "teacher_post_edits": ["please"]},
             "post_edited_pairs_by_source": {"ui": 308, "signs": 771, "backtranslated": 0}, "init": {"figures": first}}
    said = post_edits(later)
    assert "stage 1, continued corrected 1,079 of its distilled pairs (please)" in said and "Complacer" in said
    assert post_edits(first) == ""  # runs without the option: nothing said


def test_validation_scores_against_the_corrected_teacher_only_when_asked(tmp_path: Path) -> None:
    from harness.models.recipes.nmt.validation import validation_sets

    (tmp_path / "valid.tsv").write_text("Please wait\tComplacer espera\n")  # human pairs: never edited
    (tmp_path / "valid_distilled.tsv").write_text("Please wait\tComplacer espera\tsigns\nPlease wait\tComplacer espera\tbacktranslated\n")
    assert validation_sets(tmp_path)["signs"] == [("Please wait", "Complacer espera")]
    edited = validation_sets(tmp_path, ("please",))
    assert edited["signs"] == [("Please wait", "Por favor, espera")]
    assert edited["human"] == edited["backtranslated"] == [("Please wait", "Complacer espera")]
    with pytest.raises(SystemExit, match="unknown teacher_post_edits"):
        validation_sets(tmp_path, ("thanks",))


@pytest.mark.parametrize(
    ("en", "apertium", "edited"),
    [
        ("Museum closed", "El museo cerró", "Museo cerrado"),  # a sign has no article where the English has none
        ("Shops closed", "Las tiendas cerraron", "Tiendas cerradas"),
        ("Clinic Closed Today", "La clínica Cerró Hoy", "Clínica Cerrada Hoy"),
        ("GRANARY CLOSED TODAY", "El granero CERRÓ HOY", "Granero CERRADO HOY"),
        ("Keep the staircase closed", "Mantener la escalera cerró", "Mantener la escalera cerrada"),
        ("The museum is closed", "El museo es cerró", "El museo está cerrado"),
        ("Closed weekends and holidays.", "Cerró fines de semana y vacaciones.", "Cerrado fines de semana y vacaciones."),
        ("The shops remained closed for a week because of the long strike.",
         "Las tiendas permanecieron cerraron para una semana debido a la huelga larga.",
         "Las tiendas permanecieron cerradas para una semana debido a la huelga larga."),  # after "remained": the state, any length
    ],
)
def test_a_signs_closed_becomes_the_participle(en: str, apertium: str, edited: str) -> None:
    assert post_edit(en, apertium, "signs", ("closed",)) == edited


@pytest.mark.parametrize(
    ("en", "apertium"),
    [
        ("Laura closed the chapters this morning.", "Laura cerró los capítulos esta mañana."),  # an object: the verb
        ("She closed.", "Ella cerró."),  # a subject pronoun: the verb
        ("The stock market closed high this Friday.", "El mercado de valores cerró alto este viernes."),
        ("They had to complete the sale before the banks closed.", "Tuvieron que completar la venta antes de los bancos cerró."),
        ("Museum open", "El museo abre"),
    ],
)
def test_the_past_tense_stays(en: str, apertium: str) -> None:
    assert post_edit(en, apertium, "signs", ("closed",)) == apertium


def test_both_edits_apply_in_the_order_given() -> None:
    assert post_edit("Please keep the gate closed", "Complacer mantener la puerta cerró", "notices", ("please", "closed")) == (
        "Por favor, mantener la puerta cerrada"
    )
