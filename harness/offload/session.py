"""Opening the remote side of one configuration.

The server (started here or already running), the network between (loopback or a shaped namespace),
and the RemoteStages the pipeline calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.offload.options import Cell, OffloadOptions
from harness.offload.privacy import exposure
from harness.offload.stage import RemoteStages

__all__ = ["describe_cell", "open_remote"]


def describe_cell(cell: Cell) -> dict[str, Any]:
    """Placement, network and privacy exposure of a configuration, for the manifest."""
    level = exposure(cell.placement)
    return {
        "placement": cell.placement,
        "network": cell.network,
        "privacy_level": level.level,
        "privacy_rank": level.rank,
        "sends": level.sends,
    }


def _server_config(options: OffloadOptions) -> Path:
    from harness.paths import project_root

    path = Path(options.server_config)
    if not path.is_file() and (project_root() / path).is_file():
        path = project_root() / path
    if not path.is_file():
        raise ConfigError(
            f"[offload] server_config {options.server_config!r} not found (relative paths: to the working directory or the project)"
        )
    return path


def open_remote(cell: Cell, options: OffloadOptions | None, ocr: Any, mt: Any) -> RemoteStages | None:
    """The remote stages of an offloaded cell, its server started and its network shaped; None for ``local``."""
    if options is None or not cell.offloaded:
        return None
    if options.server != "auto":
        network = {"profile": cell.network, "shaped": False, "external_server": True}
        return RemoteStages(cell, options, options.server, os.environ.get(options.token_env), ocr, mt, network)
    from harness.network.profiles import LOOPBACK, profile
    from harness.offload.launch import ServerProcess

    config = _server_config(options)
    if cell.network == LOOPBACK:
        server = ServerProcess(config, "127.0.0.1")
        return _remote(cell, options, server, ocr, mt, {"profile": LOOPBACK, "shaped": False}, server.stop)
    from harness.network.netns import Testbed

    testbed = Testbed(profile(cell.network))
    try:
        server = ServerProcess(config, testbed.server_ip, prefix=testbed.prefix)
    except BaseException:
        testbed.close()
        raise

    def close() -> None:
        server.stop()
        testbed.close()

    return _remote(cell, options, server, ocr, mt, testbed.describe(), close)


def _remote(cell: Cell, options: OffloadOptions, server: Any, ocr: Any, mt: Any, network: dict[str, Any], close: Any) -> RemoteStages:
    try:
        return RemoteStages(cell, options, server.url, server.token, ocr, mt, network, close)
    except BaseException:
        close()
        raise
