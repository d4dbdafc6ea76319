"""Device-side radio energy per offloaded frame, from a published power model (Huang et al., MobiSys 2012).

The model: a transfer at uplink/downlink throughputs t_u, t_d (Mbps) draws P = alpha_u·t_u + alpha_d·t_d
+ beta for its duration; a radio that was idle first pays the promotion (P_pro for T_pro), and after the
last packet stays in the tail (P_tail for T_tail) unless the next frame's transfer starts sooner, in
which case only the gap is paid at tail power. Parameters come from harness/network/radio.toml, each
with its source; a radio with none is reported as unavailable (``energy_j`` returns None).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.tables import from_table, load_toml

__all__ = ["RadioModel", "energy_j", "load_radios"]

RADIOS = Path(__file__).with_name("radio.toml")


@dataclass(frozen=True)
class RadioModel:
    """One radio's sourced parameters (W, s, W per Mbps)."""

    source: str
    promotion_w: float
    promotion_s: float
    tail_w: float
    tail_s: float
    alpha_up_w_per_mbps: float
    alpha_down_w_per_mbps: float
    beta_w: float


def load_radios(path: Path = RADIOS) -> dict[str, RadioModel]:
    """The radios with a complete, sourced parameter set."""
    table = load_toml(path).get("radios", {})
    return {name: from_table(RadioModel, entry, f"{path} [radios.{name}]") for name, entry in table.items()}


def energy_j(model: RadioModel | None, up_s: float, down_s: float, up_mbps: float, down_mbps: float, gap_s: float) -> float | None:
    """Radio energy (J) of one frame's exchange; None without a sourced model.

    Transfer, then promotion and tail, or, when the next frame comes sooner than the tail ends, the gap
    at tail power.
    """
    if model is None:
        return None
    transfer = (model.alpha_up_w_per_mbps * up_mbps + model.beta_w) * up_s + (
        model.alpha_down_w_per_mbps * down_mbps + model.beta_w
    ) * down_s
    if gap_s >= model.tail_s:
        return transfer + model.promotion_w * model.promotion_s + model.tail_w * model.tail_s
    return transfer + model.tail_w * gap_s
