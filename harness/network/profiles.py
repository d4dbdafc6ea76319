"""Named network profiles (harness/network/profiles.toml): rates, round trip, the radio, and their source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError
from harness.tables import from_table, load_toml

__all__ = ["LOOPBACK", "NetworkProfile", "load_profiles", "profile"]

LOOPBACK = "loopback"
PROFILES = Path(__file__).with_name("profiles.toml")


@dataclass(frozen=True)
class NetworkProfile:
    """One network, every number with its ``source``.

    ``down_kbit`` / ``up_kbit``: packet-level rates (1000 bit/s); ``rtt_ms``: None when not sourced;
    ``loss_pct`` and ``jitter_ms``: 0 when none is stated; ``radio``: a model in harness.network.radio
    ("" for none).
    """

    name: str
    kind: str
    down_kbit: float
    up_kbit: float
    source: str
    rtt_ms: float | None = None
    loss_pct: float = 0.0
    jitter_ms: float = 0.0
    radio: str = ""

    def __post_init__(self) -> None:
        if self.down_kbit <= 0 or self.up_kbit <= 0 or (self.rtt_ms is not None and self.rtt_ms < 0):
            raise ConfigError(f"network profile {self.name}: rates must be positive and rtt_ms >= 0")


def load_profiles(path: Path = PROFILES) -> dict[str, NetworkProfile]:
    """Every profile of the file, by name."""
    table = load_toml(path).get("profiles", {})
    return {name: from_table(NetworkProfile, {"name": name, **entry}, f"{path} [profiles.{name}]") for name, entry in table.items()}


def profile(name: str) -> NetworkProfile:
    """One profile, or a ConfigError listing the names (``loopback`` is no profile: nothing is shaped)."""
    profiles = load_profiles()
    if name not in profiles:
        raise ConfigError(f"unknown network {name!r}; valid: {LOOPBACK}, {', '.join(sorted(profiles))}")
    return profiles[name]
