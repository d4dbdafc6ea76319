"""`arbench network`: list profiles, check shaping support, sweep an offload run analytically."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_network_parser", "run_network_command"]


def add_network_parser(parser: argparse.ArgumentParser) -> None:
    """The `network` subcommands (argparse only: nothing heavy is imported here)."""
    commands = parser.add_subparsers(dest="network_command", required=True, metavar="WHAT")
    commands.add_parser("profiles", help="named network profiles, each with its source")
    commands.add_parser("check", help="can this machine shape for real? (root, namespaces, tbf, netem)")
    sweep = commands.add_parser("sweep", help="analytic latency (and radio energy) of an offload run's placements over profiles and grids")
    sweep.add_argument("run", help="run directory of an offload experiment (with loopback configurations)")
    sweep.add_argument("--out", help="folder for sweep.csv, grid.csv, check.csv (default: the run directory)")


def run_network_command(args: argparse.Namespace) -> int:
    """Dispatch `arbench network WHAT`."""
    if args.network_command == "profiles":
        return _profiles()
    if args.network_command == "check":
        return _check()
    from harness.network.sweep import sweep_run

    for line in sweep_run(Path(args.run), Path(args.out) if args.out else None):
        print(line)
    return 0


def _profiles() -> int:
    from harness.network.profiles import load_profiles

    for p in load_profiles().values():
        rtt = f"{p.rtt_ms:g} ms" if p.rtt_ms is not None else "-"
        print(
            f"{p.name:22} {p.kind:3} down {p.down_kbit:>9g} kbit/s  up {p.up_kbit:>8g} kbit/s  rtt {rtt:>7}  radio {p.radio or '-':5}"
            f" {p.source}"
        )
    return 0


def _check() -> int:
    from harness.network.netns import NETEM_MISSING, netem_available, require_root

    require_root()
    print("root, ip and tc: yes; network namespaces, veth and tbf: used by shaped networks")
    if netem_available():
        print("netem: available (round trip, jitter and loss are applied)")
    else:
        print(f"netem: {NETEM_MISSING} (rates only)", file=sys.stderr)
    return 0
