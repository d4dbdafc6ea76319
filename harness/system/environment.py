"""The environment of a run, captured automatically for every result manifest.

``capture_environment()`` never raises: whatever cannot be read is ``None`` in its place and a line in
``unavailable`` (the ``cpu`` section also keeps its own). Files under /proc, /sys and /etc are read below
``root`` so tests and backend authors can use ``harness.testing.build_fake_system_tree``; interpreter,
packages, binaries, git and hostname describe the running process.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.system.board import (
    DeviceKind,
    capture_os,
    detect_device,
    memory_total_bytes,
    read_device_model,
    read_nv_tegra_release,
)
from harness.system.cpu import capture_cpu
from harness.system.fingerprint import fingerprint_models
from harness.system.software import (
    binary_versions,
    git_state,
    harness_repo_dir,
    package_versions,
    python_info,
)
from harness.system.thermal import capture_thermal

__all__ = ["DeviceKind", "capture_environment", "detect_device"]


def capture_environment(model_files: Sequence[Path] = (), root: Path = Path("/"), repo_dir: Path | None = None) -> dict[str, Any]:
    """A JSON-serialisable description of the machine, software and models of a run.

    ``model_files`` are hashed (cached per process); ``repo_dir`` is the checkout whose commit is
    recorded, by default the one the ``harness`` package was imported from.
    """
    cpu = capture_cpu(root)
    thermal, thermal_reasons = capture_thermal(root)
    memory, memory_reasons = memory_total_bytes(root)
    os_info, os_reasons = capture_os(root)
    models, model_reasons = fingerprint_models(model_files)
    return {
        "captured_at_utc": datetime.now(timezone.utc).isoformat(),
        "hostname": socket.gethostname(),
        "device": detect_device(root),
        "device_model": read_device_model(root),
        "nv_tegra_release": read_nv_tegra_release(root),
        "os": dict(os_info),
        "cpu": cpu,
        "memory_total_bytes": memory,
        "thermal": [dict(zone) for zone in thermal],
        "python": python_info(),
        "packages": package_versions(),
        "binaries": binary_versions(),
        "models": [dict(model) for model in models],
        "git": dict(git_state(repo_dir if repo_dir is not None else harness_repo_dir())),
        "unavailable": [*cpu["unavailable"], *thermal_reasons, *memory_reasons, *os_reasons, *model_reasons],
    }
