"""`arbench network sweep RUN`: an offload run's loopback measurements carried to other networks on paper.

Reads only the store. For every offloaded configuration measured on loopback it predicts, per frame,
the latency on each named profile and on a bandwidth × RTT grid (harness.network.model), finds the
crossover uplink rate above which offloading beats the local configuration's median, adds radio energy
where a sourced radio model exists, and checks the predictions against the configurations that ran on
shaped networks for real (the shaping that was actually applied, as recorded in the frames).
Writes sweep.csv, grid.csv, crossover.csv and check.csv.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.network.model import FrameCost, Link, link_bytes, predict_ns, upload_s
from harness.network.profiles import LOOPBACK, load_profiles
from harness.network.radio import energy_j, load_radios
from harness.store.spans import stage_spans

__all__ = ["GRID_KBIT", "GRID_RTT_MS", "frame_costs", "sweep_run"]

GRID_KBIT = (250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0, 100000.0)
GRID_RTT_MS = (0.0, 10.0, 20.0, 50.0, 100.0, 200.0, 300.0)


def _e2e_ns(record: dict[str, Any]) -> int:
    stages = stage_spans(record["spans"])
    return max(s["end_ns"] for s in stages) - stages[0]["start_ns"]


def frame_costs(records: list[dict[str, Any]]) -> dict[int, FrameCost]:
    """Measured, successful, non-fallback frames of one configuration, by frame id."""
    costs = {}
    for record in records:
        if record["warmup"] or not record["ok"] or record.get("offload", {}).get("fallback", True):
            continue
        spans = {s["name"]: s for s in record["spans"]}
        if "offload.roundtrip" not in spans:
            continue  # ocr-local frames without text send nothing
        duration = {name: s["end_ns"] - s["start_ns"] for name, s in spans.items()}
        trip = spans["offload.roundtrip"]["attrs"]
        server = trip["server_ns"] + trip["queue_ns"]
        exchange = duration["offload.encode"] + duration["offload.roundtrip"] + duration["offload.decode"]
        costs[record["frame_id"]] = FrameCost(
            device_ns=_e2e_ns(record) - exchange,
            encode_ns=duration["offload.encode"],
            decode_ns=duration["offload.decode"],
            server_ns=server,
            overhead_ns=duration["offload.roundtrip"] - server,
            wire_up_bytes=trip["wire_up_bytes"],
            wire_down_bytes=trip["wire_down_bytes"],
            new_connection=bool(trip.get("new_connection")),
        )
    return costs


def _p50_ms(values: list[int]) -> float:
    return float(np.median(values)) / 1e6 if values else float("nan")


def _crossover_kbit(costs: list[FrameCost], rtt_ms: float, local_ms: float) -> float | None:
    """The lowest uplink rate (downlink alike) at which the predicted median beats ``local_ms``; None if none does."""

    def median_ms(kbit: float) -> float:
        return _p50_ms([predict_ns(c, Link(kbit, kbit, rtt_ms)) for c in costs])

    low, high = 1.0, 1e7
    if median_ms(high) >= local_ms:
        return None
    for _ in range(60):
        middle = (low * high) ** 0.5
        low, high = (low, middle) if median_ms(middle) < local_ms else (middle, high)
    return high


def _by_config(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[record["config_id"]].append(record)
    return grouped


def sweep_run(run_dir: Path, out: Path | None = None) -> list[str]:
    """Write the sweep tables of a run; return lines that say what was found."""
    from harness.store.reader import read_frames

    records, _ = read_frames(run_dir / "frames.jsonl")
    grouped = _by_config(records)
    local = {cid: _p50_ms([_e2e_ns(r) for r in rs if not r["warmup"] and r["ok"]]) for cid, rs in grouped.items() if "+" not in cid}
    loopback = {cid: frame_costs(rs) for cid, rs in grouped.items() if cid.endswith(f"@{LOOPBACK}")}
    out = out or run_dir
    tables = {"sweep": _profiles(loopback, local, grouped), "grid": _grid(loopback, local), "crossover": _crossovers(loopback, local)}
    tables["check"] = _check(loopback, grouped)
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
    return _lines(tables, out)


def _placement(config_id: str) -> tuple[str, str, str]:
    """(base config id, placement, network) of "base+placement@network"."""
    base, _, rest = config_id.partition("+")
    placement, _, network = rest.partition("@")
    return base, placement, network


def _profiles(loopback: dict[str, dict[int, FrameCost]], local: dict[str, float], grouped: dict[str, Any]) -> pd.DataFrame:
    radios = load_radios()
    rows = []
    for cid, costs in loopback.items():
        base, placement, _ = _placement(cid)
        privacy = next((r["offload"]["privacy_level"] for r in grouped[cid] if "offload" in r), "")
        for p in load_profiles().values():
            link = Link(p.up_kbit, p.down_kbit, p.rtt_ms or 0.0)
            predicted = [predict_ns(c, link) for c in costs.values()]
            ups = [upload_s(c.wire_up_bytes, p.up_kbit, 0.0) for c in costs.values()]
            downs = [link_bytes(c.wire_down_bytes) * 8 / (p.down_kbit * 1000) for c in costs.values()]
            period_s = _p50_ms(predicted) / 1e3
            energy = [
                energy_j(radios.get(p.radio), u, d, p.up_kbit / 1000, p.down_kbit / 1000, period_s) for u, d in zip(ups, downs, strict=True)
            ]
            known = [e for e in energy if e is not None]
            rows.append(
                {
                    "config_id": base,
                    "placement": placement,
                    "privacy_level": privacy,
                    "profile": p.name,
                    "kind": p.kind,
                    "up_kbit": p.up_kbit,
                    "down_kbit": p.down_kbit,
                    "rtt_ms": p.rtt_ms,
                    "lower_bound": p.rtt_ms is None,
                    "frames": len(predicted),
                    "p50_ms": _p50_ms(predicted),
                    "p90_ms": float(np.percentile(predicted, 90)) / 1e6 if predicted else None,
                    "local_p50_ms": local.get(base),
                    "upload_p50_ms": float(np.median(ups)) * 1e3 if ups else None,
                    "wire_up_bytes_mean": float(np.mean([c.wire_up_bytes for c in costs.values()])) if costs else None,
                    "wire_down_bytes_mean": float(np.mean([c.wire_down_bytes for c in costs.values()])) if costs else None,
                    "radio_energy_j_mean": float(np.mean(known)) if known else None,
                    "radio_energy": "model"
                    if known
                    else f"unavailable: no sourced parameters for radio {p.radio or '(none)'} (harness/network/radio.toml)",
                    "source": p.source,
                }
            )
    return pd.DataFrame(rows)


def _grid(loopback: dict[str, dict[int, FrameCost]], local: dict[str, float]) -> pd.DataFrame:
    rows = []
    for cid, costs in loopback.items():
        base, placement, _ = _placement(cid)
        for kbit in GRID_KBIT:
            for rtt in GRID_RTT_MS:
                p50 = _p50_ms([predict_ns(c, Link(kbit, kbit, rtt)) for c in costs.values()])
                rows.append(
                    {
                        "config_id": base,
                        "placement": placement,
                        "kbit": kbit,
                        "rtt_ms": rtt,
                        "p50_ms": p50,
                        "local_p50_ms": local.get(base),
                        "beats_local": bool(local.get(base) and p50 < local[base]),
                    }
                )
    return pd.DataFrame(rows)


def _crossovers(loopback: dict[str, dict[int, FrameCost]], local: dict[str, float]) -> pd.DataFrame:
    rows = []
    for cid, costs in loopback.items():
        base, placement, _ = _placement(cid)
        if base not in local or not costs:
            continue
        for rtt in GRID_RTT_MS:
            kbit = _crossover_kbit(list(costs.values()), rtt, local[base])
            rows.append({"config_id": base, "placement": placement, "rtt_ms": rtt, "local_p50_ms": local[base], "crossover_kbit": kbit})
    return pd.DataFrame(rows)


def _check(loopback: dict[str, dict[int, FrameCost]], grouped: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Predictions from loopback against the shaped runs (with the shaping that was applied)."""
    rows = []
    for cid, records in grouped.items():
        base, placement, network = _placement(cid)
        source = loopback.get(f"{base}+{placement}@{LOOPBACK}")
        measured = frame_costs(records)
        if network in ("", LOOPBACK) or not source or not measured:
            continue
        applied = next(r["offload"]["network"] for r in records if "offload" in r).get("applied", {})
        link = Link(applied["up_kbit"], applied["down_kbit"], applied.get("rtt_ms", 0.0), applied.get("bucket_bytes", 0))
        common = sorted(set(source) & set(measured))
        shaped_e2e = {r["frame_id"]: _e2e_ns(r) for r in records if r["frame_id"] in measured and not r["warmup"]}
        predicted = [predict_ns(source[f], link) for f in common]
        actual = [shaped_e2e[f] for f in common]
        # the network term alone: the shaped run's own compute removed, so CPU noise does not count as model error
        net_predicted = [predict_ns(m, link) - predict_ns(m, Link(1e12, 1e12)) for m in (measured[f] for f in common)]
        net_actual = [measured[f].overhead_ns - source[f].overhead_ns for f in common]
        rows.append(
            {
                "config_id": base,
                "placement": placement,
                "network": network,
                "frames": len(common),
                "up_kbit": link.up_kbit,
                "down_kbit": link.down_kbit,
                "rtt_ms_applied": link.rtt_ms,
                "measured_p50_ms": _p50_ms(actual),
                "predicted_p50_ms": _p50_ms(predicted),
                "error_p50_ms": _p50_ms(predicted) - _p50_ms(actual),
                "error_p50_pct": 100 * (_p50_ms(predicted) - _p50_ms(actual)) / _p50_ms(actual),
                "mean_abs_error_pct": float(np.mean([abs(p - a) / a for p, a in zip(predicted, actual, strict=True)])) * 100,
                "network_measured_p50_ms": _p50_ms(net_actual),
                "network_predicted_p50_ms": _p50_ms(net_predicted),
                "network_error_p50_pct": 100 * (_p50_ms(net_predicted) - _p50_ms(net_actual)) / _p50_ms(net_actual)
                if _p50_ms(net_actual)
                else None,
            }
        )
    return pd.DataFrame(rows)


def _lines(tables: dict[str, pd.DataFrame], out: Path) -> list[str]:
    lines = [f"wrote {', '.join(f'{name}.csv' for name in tables)} to {out}"]
    for row in tables["check"].to_dict("records"):
        lines.append(
            f"check {row['placement']}@{row['network']}: measured p50 {row['measured_p50_ms']:.1f} ms,"
            f" predicted {row['predicted_p50_ms']:.1f} ms"
            f" ({row['error_p50_ms']:+.1f} ms, {row['error_p50_pct']:+.1f}%); network term {row['network_measured_p50_ms']:.1f} vs"
            f" {row['network_predicted_p50_ms']:.1f} ms"
        )
    return lines
