"""What ``arbench fleet setup`` ships: one commit's source, its model files apart, and a wheelhouse.

The source is ``git archive`` of HEAD without the large files under models/ (over ``MODEL_MIN_BYTES``): those
travel on their own, with the model files that ``make models`` built or ``arbench models fetch`` brought here and
models/manifest.toml pins (where they match their pins), and are copied only to hosts whose copy has another
sha256, so a new commit moves a few megabytes, not the models again. A host unpacks the archive beside the ones it has and records the
commit in ``.arbench-source.json`` (``harness.system.software.SOURCE_STAMP``), so its runs name their commit.
Uncommitted changes are not shipped: setup says so.

A wheelhouse (``arbench fleet wheelhouse``) holds arbench's dependencies as wheels, so hosts install offline
(``pip --no-index``); it is shipped as one tar, copied again only when its content changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from harness.errors import UserError
from harness.fleet.plays import Bundle
from harness.paths import project_root
from harness.system.fingerprint import cached_sha256
from harness.system.software import SOURCE_STAMP

__all__ = ["MODEL_MIN_BYTES", "apt_packages", "build_wheelhouse", "head_commit", "make_bundle"]

MODEL_MIN_BYTES = 256 * 1024


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(project_root()), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UserError(f"fleet setup ships a commit of arbench's git checkout: `git {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


def head_commit() -> str | None:
    """HEAD of arbench's checkout here; None where it is no git checkout."""
    try:
        return _git("rev-parse", "--verify", "HEAD").strip()
    except UserError:
        return None


def apt_packages() -> tuple[str, ...]:
    """The Debian packages ``make setup`` installs (the Makefile's ``APT_PACKAGES``, the one list of them)."""
    makefile = project_root() / "Makefile"
    match = re.search(r"^APT_PACKAGES\s*:=\s*(.+)$", makefile.read_text(encoding="utf-8"), re.MULTILINE) if makefile.is_file() else None
    return tuple(match.group(1).split()) if match else ()


def make_bundle(cache: Path, wheelhouse: Path | None, apt: bool = True) -> tuple[Bundle, bool]:
    """The bundle of HEAD (archives cached under ``cache``) and whether the work tree has uncommitted changes."""
    commit = _git("rev-parse", "--verify", "HEAD").strip()
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    root = project_root()
    models = []
    tracked = set(_git("ls-files", "-z").split("\0"))
    for name in sorted(n for n in tracked if n.startswith("models/")):
        path = root / name
        if path.is_file() and path.stat().st_size > MODEL_MIN_BYTES:
            models.append((name, path, _blob_sha256(commit, name)))
    models += _built_models(tracked)
    cache.mkdir(parents=True, exist_ok=True)
    source = cache / f"source-{commit}.tar"
    if not source.is_file():
        partial = source.with_name(source.name + ".partial")
        excludes = [f":(exclude){name}" for name, _, _ in models]
        _git("archive", "--format=tar", f"--output={partial}", commit, "--", ".", *excludes)
        _add_stamp(partial, commit)
        partial.replace(source)
    for name, path, sha in models:
        if cached_sha256(path) != sha:
            raise UserError(f"{name} differs from commit {commit[:12]}: fleet setup ships commits; commit it or `git checkout -- {name}`")
    wheels_tar, wheels_sha = (None, None) if wheelhouse is None else _wheelhouse_tar(wheelhouse, cache)
    for stale in [*cache.glob("source-*.tar"), *cache.glob("wheelhouse-*.tar")]:  # archives of other commits: seconds to remake
        if stale not in (source, wheels_tar):
            stale.unlink()
    bundle = Bundle(commit, source, tuple(models), wheels_tar, wheels_sha, apt_packages() if apt else ())
    return bundle, dirty


def _built_models(tracked: set[str]) -> list[tuple[str, Path, str]]:
    """Files models/manifest.toml pins in the tree that recipes or fetches made here (not in git), where they match their pins.

    A host gets them as they are here, so an experiment finds on the device what it found on this machine.
    """
    from harness.models.manifest import load_manifest

    root = project_root()
    built = []
    for entry in load_manifest():
        for name, sha in zip(entry.files, entry.sha256, strict=False):
            path = root / name
            if "{" in name or name in tracked or name in {b[0] for b in built} or not path.is_file():
                continue  # a package's file, one in the source archive already, or one not made here
            if cached_sha256(path) == sha:
                built.append((name, path, sha))
    return built


def _add_stamp(archive: Path, commit: str) -> None:
    """Append ``SOURCE_STAMP`` (the commit) to the source archive, so the unpacked tree knows what it is."""
    stamp = json.dumps({"commit": commit, "from": "arbench fleet setup"}).encode() + b"\n"
    info = tarfile.TarInfo(SOURCE_STAMP)
    info.size, info.mode = len(stamp), 0o644
    with tarfile.open(archive, "a") as tar:
        tar.addfile(info, io.BytesIO(stamp))


def _blob_sha256(commit: str, name: str) -> str:
    """sha256 of a file as committed (not as it may be edited in the work tree)."""
    done = subprocess.run(["git", "-C", str(project_root()), "cat-file", "blob", f"{commit}:{name}"], capture_output=True, check=False)
    if done.returncode != 0:
        raise UserError(f"cannot read {name} at {commit[:12]}: {done.stderr.decode(errors='replace').strip()}")
    return hashlib.sha256(done.stdout).hexdigest()


def _wheelhouse_tar(wheelhouse: Path, cache: Path) -> tuple[Path, str]:
    """One tar of the wheelhouse's wheels, named by a hash of their names and contents (so unchanged means not re-sent)."""
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels:
        raise UserError(f"wheelhouse {wheelhouse} holds no wheels: build one with `arbench fleet wheelhouse --out {wheelhouse}`")
    digest = hashlib.sha256()
    for wheel in wheels:
        digest.update(wheel.name.encode() + b"\0" + cached_sha256(wheel).encode() + b"\n")
    sha = digest.hexdigest()[:16]
    tar_path = cache / f"wheelhouse-{sha}.tar"
    if not tar_path.is_file():
        partial = tar_path.with_name(tar_path.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            for wheel in wheels:
                info = tar.gettarinfo(str(wheel), arcname=wheel.name)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with wheel.open("rb") as handle:
                    tar.addfile(info, handle)
        partial.replace(tar_path)
    return tar_path, sha


def _requirements(extras: str) -> list[str]:
    """Arbench's dependencies and those of ``extras``, from pyproject.toml."""
    from harness.tables import load_toml

    project = load_toml(project_root() / "pyproject.toml")["project"]
    wanted = [e.strip() for e in extras.split(",") if e.strip()]
    unknown = [e for e in wanted if e not in project["optional-dependencies"]]
    if unknown:
        raise UserError(f"unknown extra(s) {', '.join(unknown)}: pyproject.toml has {', '.join(project['optional-dependencies'])}")
    return list(project["dependencies"]) + [r for e in wanted for r in project["optional-dependencies"][e]]


def build_wheelhouse(out: Path, extras: str = "", platform: str | None = None, python_version: str | None = None) -> list[Path]:
    """Wheels of arbench's dependencies (``extras``' too) and its build backend into ``out``: native or another platform's."""
    out.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    requirements = [*_requirements(extras), "setuptools>=77"]
    if platform is None:
        command = [*pip, "wheel", "--quiet", "--wheel-dir", str(out), *requirements]
    else:  # another platform's binary wheels (arbench itself travels as source)
        target = ["--platform", platform, *(["--python-version", python_version] if python_version else [])]
        command = [*pip, "download", "--quiet", "--only-binary=:all:", *target, "--dest", str(out), *requirements]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or [str(done.returncode)])[-1]
        raise UserError(f"building the wheelhouse failed: {tail}")
    return sorted(out.glob("*.whl"))
