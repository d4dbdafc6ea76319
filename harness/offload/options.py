"""The ``[offload]`` section of an experiment: placements, networks, server and payload encoding.

A placement says where the stages run: ``local`` (everything on the device), ``cloud`` (the encoded frame
goes to the server, which runs OCR and MT), ``det-local`` (the device detects text and sends the crops),
``ocr-local`` (the device runs OCR and sends the recognized text). Every placement other than ``local``
is crossed with every network in ``networks``; ``local`` runs once.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError
from harness.tables import choice

__all__ = ["ENDPOINTS", "LOCAL", "PLACEMENTS", "Cell", "OffloadOptions"]

LOCAL = "local"
PLACEMENTS = (LOCAL, "cloud", "det-local", "ocr-local")
ENDPOINTS = {"cloud": "/v1/frame", "det-local": "/v1/crops", "ocr-local": "/v1/text"}
IMAGE_FORMATS = ("jpeg", "png", "webp")


@dataclass(frozen=True)
class OffloadOptions:
    """How offloaded configurations reach their server.

    ``server``: "auto" starts a server per configuration from ``server_config`` (on loopback, or inside a
    network namespace for shaped networks) and stops it afterwards; otherwise the URL of a running one,
    whose bearer token is read from the environment variable ``token_env``. ``networks``: "loopback" or
    profile names from harness/network/profiles.toml (shaped for real: root needed). ``timeout_s``: the
    longest wait on the socket for one exchange. ``fallback``: "none" records a failed exchange as a failed
    frame; "local" runs the stages on the device instead and marks the frame. Frames go as ``frame_format``
    (``frame_quality`` 1-100 for JPEG/WebP), shrunk so their longer side is at most ``frame_max_side_px``
    (0: as captured); crops go as ``crop_format``.
    """

    placements: tuple[str, ...] = PLACEMENTS
    networks: tuple[str, ...] = ("loopback",)
    server: str = "auto"
    server_config: str = "experiments/servers/offload.toml"
    token_env: str = "ARBENCH_SERVER_TOKEN"
    timeout_s: float = 10.0
    fallback: str = "none"
    frame_format: str = "jpeg"
    frame_quality: int = 85
    frame_max_side_px: int = 0
    crop_format: str = "png"
    crop_quality: int = 90

    def __post_init__(self) -> None:
        for placement in self.placements:
            choice(placement, PLACEMENTS, "[offload] placements")
        choice(self.fallback, ("none", "local"), "[offload] fallback")
        choice(self.frame_format, IMAGE_FORMATS, "[offload] frame_format")
        choice(self.crop_format, IMAGE_FORMATS, "[offload] crop_format")
        if not self.placements or not self.networks:
            raise ConfigError("[offload]: placements and networks need at least one entry each")
        if not (1 <= self.frame_quality <= 100 and 1 <= self.crop_quality <= 100):
            raise ConfigError("[offload]: frame_quality and crop_quality are 1-100")
        if self.timeout_s <= 0 or self.frame_max_side_px < 0:
            raise ConfigError("[offload]: need timeout_s > 0 and frame_max_side_px >= 0")

    def cells(self) -> list[Cell]:
        """Placement × network, ``local`` once (no network); in file order."""
        cells: list[Cell] = []
        for placement in self.placements:
            networks = ("",) if placement == LOCAL else self.networks
            cells += [Cell(placement, network) for network in networks]
        return cells


@dataclass(frozen=True)
class Cell:
    """One placement on one network ("" for ``local``): the offload part of a configuration."""

    placement: str = LOCAL
    network: str = ""

    @property
    def suffix(self) -> str:
        """What the configuration id gets: nothing for local, "+cloud@loopback" otherwise."""
        return "" if self.placement == LOCAL else f"+{self.placement}@{self.network}"

    @property
    def offloaded(self) -> bool:
        """Whether any stage runs on the server."""
        return self.placement != LOCAL
