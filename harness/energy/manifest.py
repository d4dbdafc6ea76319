"""The run-level energy and throttling entries of a manifest, from each configuration's outcome."""

from __future__ import annotations

from typing import Any

__all__ = ["energy_manifest", "energy_validity"]


def _ran(outcomes: list[Any]) -> list[Any]:
    return [o for o in outcomes if o.energy]


def energy_validity(outcomes: list[Any]) -> dict[str, Any]:
    """``energy``: available (every configuration that ran had all its readings), partial, or unavailable; and throttling."""
    ran = _ran(outcomes)
    statuses = [o.energy["status"] for o in ran]
    if not ran or all(s == "unavailable" for s in statuses):
        status = "unavailable"
        reason = ran[0].energy["reason"] if ran else "no configuration ran"
    elif all(s == "available" for s in statuses):
        status, reason = "available", ""
    else:
        status = "partial"
        reason = "; ".join(f"{o.config_id}: {o.energy['status']}: {o.energy['reason']}" for o in ran if o.energy["status"] != "available")
    throttled = [o.config_id for o in outcomes if (o.telemetry or {}).get("throttled")]
    watched = [o.telemetry["throttled"] for o in outcomes if "throttled" in (o.telemetry or {})]
    verdict = True if throttled else (None if not watched or None in watched else False)  # None: no signal was readable
    return {"energy": status, "energy_reason": reason, "throttled": verdict, "throttled_configurations": throttled}


def energy_manifest(outcomes: list[Any]) -> dict[str, Any]:
    """Which sensors and channels were read, which make up the total, idle baselines and sampler cost per configuration."""
    ran = _ran(outcomes)
    channels: dict[str, list[str]] = {}
    for outcome in ran:
        for sensor in outcome.energy.get("sensors", []):
            known = channels.setdefault(sensor["sensor"], [])
            known += [c for c in sensor["channels"] if c not in known]
    validity = energy_validity(outcomes)
    return {
        "status": validity["energy"],
        "reason": validity["energy_reason"],
        "sensors": sorted(channels),
        "channels": channels,
        "total_from": sorted({name for o in ran for name in o.energy.get("total_from", [])}),
        "idle_baseline_w": {o.config_id: o.energy.get("idle_baseline_w") for o in ran},
        "sampler_cpu_share": {o.config_id: o.energy.get("sampler_cpu_share") for o in ran},
    }
