"""`arbench models build`: make the project's own model files from their recipes, cached by input hash.

Every manifest entry with a ``recipe`` names its output files and pins their sha256. For each recipe:

- outputs present and matching their pins: nothing to do (the command is idempotent);
- otherwise (or with ``force``) the recipe's inputs (recipe version, settings, source models, library
  versions) are hashed; a build cached under that hash in ``build/model-cache/<recipe>/<hash>/`` is
  reused, else the recipe runs there. The cached files are then checked against the pins and copied
  into place only when they match (the pinned files and the recipe's JSON record, nothing else). A
  build that differs from the pins (another onnxruntime, say) is left in the cache and reported, so
  shipped files are never silently replaced by different bytes.

The CTranslate2 copy of the NMT model (``ct2``) and the LiteRT fp16 models (``tflite-fp16``) are not
shipped: they are made here from the weights that are, in seconds, byte for byte the pinned files.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import BackendUnavailable, ConfigError, DataMissing
from harness.models.manifest import ModelEntry, load_manifest
from harness.models.verify import verify_model
from harness.paths import project_root
from harness.system.fingerprint import sha256_file

__all__ = ["RECIPES", "Recipe", "build_models", "cache_dir"]


@dataclass(frozen=True)
class Recipe:
    """A recipe: two "module:function" names, and the environment it runs in.

    ``build`` takes an output folder and writes the files; ``key`` returns a JSON-able description of
    everything the output depends on (its hash names the cache folder). ``venv``: a virtual environment
    (relative to the project root) whose Python runs both, for converters whose pins clash with the
    benchmark environment's; None runs them in this process.
    """

    build: str
    key: str
    venv: str | None = None
    venv_hint: str = ""

    def run(self, out_dir: Path) -> None:
        """Build into ``out_dir``."""
        self._call(self.build, str(out_dir))

    def inputs_hash(self) -> str:
        """sha256 of the canonical JSON of the recipe's inputs."""
        inputs = self._call(self.key)
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()

    def _call(self, spec: str, *args: str) -> Any:
        """Call ``spec`` with ``args`` as paths; in the recipe's venv when it has one (its result then comes back as JSON)."""
        if self.venv is None:
            return _function(spec)(*(Path(a) for a in args))
        python = project_root() / self.venv / "bin" / "python"
        if not python.is_file():
            raise BackendUnavailable(f"this recipe runs in its own environment, {python.parent.parent} is missing: {self.venv_hint}")
        module, name = spec.split(":")
        code = (
            "import json, sys; from pathlib import Path; from importlib import import_module; "
            f"result = getattr(import_module({module!r}), {name!r})(*(Path(a) for a in sys.argv[1:])); "
            "print(json.dumps(result, default=str))"
        )
        done = subprocess.run([str(python), "-c", code, *args], cwd=project_root(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            error = BackendUnavailable if tail[0].startswith("harness.errors.BackendUnavailable") else DataMissing
            raise error(f"recipe step {spec} failed in {self.venv}: {tail[0]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


RECIPES = {
    "ct2": Recipe("harness.models.recipes.ct2:build_default", "harness.models.recipes.ct2:inputs_key"),
    "tflite-fp16": Recipe("harness.models.recipes.tflite_fp16:build_default", "harness.models.recipes.tflite_fp16:inputs_key"),
    "nmt-v1-hf": Recipe("harness.models.recipes.history:build_nmt_v1_hf", "harness.models.recipes.history:nmt_v1_hf_key"),
    "nmt-v1-ct2": Recipe("harness.models.recipes.history:build_nmt_v1_ct2", "harness.models.recipes.history:nmt_v1_ct2_key"),
    "nmt-v2-hf": Recipe("harness.models.recipes.history:build_nmt_v2_hf", "harness.models.recipes.history:nmt_v2_hf_key"),
    "nmt-v2-ct2": Recipe("harness.models.recipes.history:build_nmt_v2_ct2", "harness.models.recipes.history:nmt_v2_ct2_key"),
    "nmt-v3-hf": Recipe("harness.models.recipes.history:build_nmt_v3_hf", "harness.models.recipes.history:nmt_v3_hf_key"),
    "nmt-v3-ct2": Recipe("harness.models.recipes.history:build_nmt_v3_ct2", "harness.models.recipes.history:nmt_v3_ct2_key"),
    "nmt-v4-hf": Recipe("harness.models.recipes.history:build_nmt_v4_hf", "harness.models.recipes.history:nmt_v4_hf_key"),
    "nmt-v4-ct2": Recipe("harness.models.recipes.history:build_nmt_v4_ct2", "harness.models.recipes.history:nmt_v4_ct2_key"),
    "nmt-v5-hf": Recipe("harness.models.recipes.history:build_nmt_v5_hf", "harness.models.recipes.history:nmt_v5_hf_key"),
    "nmt-v5-ct2": Recipe("harness.models.recipes.history:build_nmt_v5_ct2", "harness.models.recipes.history:nmt_v5_ct2_key"),
    "nmt-v6-hf": Recipe("harness.models.recipes.history:build_nmt_v6_hf", "harness.models.recipes.history:nmt_v6_hf_key"),
    "nmt-v6-ct2": Recipe("harness.models.recipes.history:build_nmt_v6_ct2", "harness.models.recipes.history:nmt_v6_ct2_key"),
    "nmt-v7-hf": Recipe("harness.models.recipes.history:build_nmt_v7_hf", "harness.models.recipes.history:nmt_v7_hf_key"),
    "nmt-v7-ct2": Recipe("harness.models.recipes.history:build_nmt_v7_ct2", "harness.models.recipes.history:nmt_v7_ct2_key"),
    "ppocr-torch": Recipe("harness.models.recipes.ppocr_torch:build_default", "harness.models.recipes.ppocr_torch:inputs_key"),
    "ort-int8": Recipe("harness.models.recipes.ort_int8:build_default", "harness.models.recipes.ort_int8:inputs_key"),
    "tflite": Recipe(
        "harness.models.recipes.tflite:build_default",
        "harness.models.recipes.tflite:inputs_key",
        venv="build/convert-venv",
        venv_hint="run `make convert-venv` (onnx2tf and TensorFlow, with their own NumPy and ONNX pins)",
    ),
}


def _function(spec: str) -> Callable[..., Any]:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def cache_dir() -> Path:
    """Where built recipes are kept, one folder per inputs hash."""
    return project_root() / "build" / "model-cache"


def _stale(entries: list[ModelEntry]) -> str | None:
    """Why the entries' files are not usable as they are, or None when they are."""
    try:
        for entry in entries:
            verify_model(entry)
    except DataMissing as exc:
        return str(exc)
    return None


def _check_against_pins(entries: list[ModelEntry], built_dir: Path) -> list[str]:
    """Mismatches between the built files and the pinned sha256 (empty when all match)."""
    problems = []
    for entry in entries:
        for path, pinned in zip(entry.paths(), entry.sha256, strict=False):
            built = built_dir / path.name
            if not built.is_file():
                problems.append(f"{entry.id}: the recipe did not write {path.name}")
            elif (actual := sha256_file(built)) != pinned:
                problems.append(f"{entry.id}: built {path.name} has sha256 {actual[:12]}…, the manifest pins {pinned[:12]}…")
    return problems


def build_models(force: bool = False, say: Callable[[str], None] = print, manifest: list[ModelEntry] | None = None) -> list[str]:
    """Build every recipe whose outputs are missing or stale; return the recipes built or copied into place.

    ``force`` rebuilds every recipe, ignoring the cache too. A recipe whose tools are not installed here
    (an optional extra) is skipped with its reason; its models stay absent and runs that need them say so.

    Every recipe is tried; then a DataMissing names those that failed (a build that differs from the pinned
    hashes names where it was kept).
    """
    by_recipe: dict[str, list[ModelEntry]] = {}
    for entry in manifest if manifest is not None else load_manifest():
        if entry.recipe:
            by_recipe.setdefault(entry.recipe, []).append(entry)
    done, failed = [], []
    for name, entries in by_recipe.items():
        recipe = RECIPES.get(name)
        if recipe is None:
            raise ConfigError(f"models/manifest.toml: unknown recipe {name!r}; valid: {', '.join(sorted(RECIPES))}")
        ids = ", ".join(e.id for e in entries)
        why = _stale(entries)
        if why is None and not force:
            say(f"up to date: {name} ({ids})")
            continue
        try:
            _build(name, recipe, entries, ids, force, why, say)
        except BackendUnavailable as exc:
            say(f"skipped: {name} ({ids}): {exc}")
            continue
        except DataMissing as exc:  # the next recipes still get built: one stale file must not cost the others
            say(f"failed: {name} ({ids}): {exc}")
            failed.append(str(exc))
            continue
        done.append(name)
    if failed:
        raise DataMissing(failed[0] if len(failed) == 1 else f"{len(failed)} recipes failed; first: {failed[0]}")
    return done


def _build(
    name: str, recipe: Recipe, entries: list[ModelEntry], ids: str, force: bool, why: str | None, say: Callable[[str], None]
) -> None:
    """Build one recipe (or take its cached build), check it against the pins and copy its files into place."""
    folders = {p.parent for e in entries for p in e.paths()}
    if len(folders) != 1:
        raise ConfigError(f"models/manifest.toml: recipe {name} writes to more than one folder: {sorted(map(str, folders))}")
    target = folders.pop()
    built = cache_dir() / name / recipe.inputs_hash()
    if (built / ".complete").is_file() and not force:
        say(f"cached: {name} ({ids}) in {built}")
    else:
        say(f"building: {name} ({ids}) into {built}" + (f" ({why})" if why else ""))
        shutil.rmtree(built, ignore_errors=True)
        recipe.run(built)
        (built / ".complete").write_text("", encoding="utf-8")
    problems = _check_against_pins(entries, built)
    if problems:
        raise DataMissing(
            f"recipe {name} built different bytes than models/manifest.toml pins ({problems[0]}); the build is kept in {built} —"
            " its record names the library versions: use the shipped files (git checkout models/) or, to adopt the new build, copy it"
            " into place and update the pins"
        )
    target.mkdir(parents=True, exist_ok=True)
    pinned = {path.name for entry in entries for path in entry.paths()}
    for file in built.iterdir():  # the pinned files and the recipe's record, never another recipe's files
        if file.name in pinned or file.suffix == ".json":
            shutil.copyfile(file, target / file.name)
    say(f"in place: {name} → {target}")
