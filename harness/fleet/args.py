"""The command line of ``arbench fleet``: its parser and its dispatch (the work is in ``harness.fleet.commands``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from harness.errors import UserError

__all__ = ["add_fleet_parser", "run_fleet_command"]

_INVENTORY_HELP = "Ansible inventory (INI or YAML) of the devices: the lab's own; host variables in docs/fleet.md"


def _positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    """An argparse type: a number above zero, else one line saying so."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be above 0")
        return value

    return parse


def _common(parser: argparse.ArgumentParser, inventory: bool = True) -> None:
    if inventory:
        parser.add_argument("--inventory", "-i", required=True, help=_INVENTORY_HELP)
        parser.add_argument("--limit", help="only these inventory hosts, comma-separated")
        parser.add_argument("--known-hosts", help="known_hosts file of the devices' SSH host keys (default: ssh's own, ~/.ssh/known_hosts)")
        parser.add_argument(
            "--accept-new-host-keys",
            action="store_true",
            help="accept the key of a host never seen before (a changed key is still refused)",
        )
        parser.add_argument("--forks", type=_positive(int), help="hosts driven at once (default: all, at most 50)")
    parser.add_argument("--results", default="results", help="results root on this host (default: results)")


def add_fleet_parser(fleet: argparse.ArgumentParser) -> None:
    """``arbench fleet setup | run | status | wheelhouse``."""
    commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="WHAT")
    setup = commands.add_parser("setup", help="install this commit of arbench on every host and check each host's device")
    _common(setup)
    setup.add_argument("--wheelhouse", help="folder of wheels (`arbench fleet wheelhouse`): hosts install offline from it")
    setup.add_argument("--no-apt", action="store_true", help="do not install Debian packages on the hosts")
    run = commands.add_parser("run", help="run an experiment on every host at once and gather the runs into results/<device>/")
    run.add_argument("experiment", nargs="?", help="experiment TOML file, e.g. experiments/smoke.toml")
    _common(run)
    run.add_argument("--resume", metavar="FLEET_RUN", help="take up the hosts of this fleet run (results/fleet/ID) that did not finish")
    run.add_argument("--shard", action="store_true", help="identical hosts split the configurations; merged into one run (docs/fleet.md)")
    run.add_argument("--calibration", metavar="CONFIG_ID", help="with --shard: the configuration every host runs (default: the first)")
    run.add_argument("--poll-s", type=_positive(float), default=5.0, help="seconds between reads of each host's status file (default 5)")
    run.add_argument("--max-wait-s", type=_positive(float), default=86400.0, help="give up on a host's run after this long (default 86400)")
    status = commands.add_parser("status", help="the hosts' last setup and the last fleet run's outcome per host")
    status.add_argument("fleet_run", nargs="?", metavar="FLEET_RUN", help="a fleet run folder (default: the latest)")
    _common(status, inventory=False)
    wheelhouse = commands.add_parser("wheelhouse", help="wheels of arbench's dependencies, for hosts that install offline")
    wheelhouse.add_argument("--out", required=True, help="output folder")
    wheelhouse.add_argument("--extras", default="", help="pip extras the hosts need too, e.g. mt,tflite")
    wheelhouse.add_argument("--platform", help="another platform's wheels, e.g. manylinux2014_aarch64 (Raspberry Pi OS, Jetson)")
    wheelhouse.add_argument("--python-version", help="with --platform: the hosts' Python, e.g. 3.11")


def _path(text: str | None) -> Path | None:
    """An absolute path: Ansible reads paths from a folder of its own, so a relative one would point elsewhere."""
    return Path(text).resolve() if text else None


def run_fleet_command(args: argparse.Namespace) -> int:
    """Dispatch ``arbench fleet WHAT``."""
    from harness.fleet.commands import FleetOptions, fleet_setup, fleet_status, parse_limit
    from harness.fleet.engine import SshSettings

    if args.fleet_command == "wheelhouse":
        from harness.fleet.bundle import build_wheelhouse

        if args.python_version and not args.platform:
            raise UserError("--python-version goes with --platform (the other platform's wheels); drop it, or name the platform")
        wheels = build_wheelhouse(Path(args.out), args.extras, args.platform, args.python_version)
        print(f"{len(wheels)} wheels in {args.out}")
        return 0
    results = Path(args.results).resolve()
    if args.fleet_command == "status":
        return fleet_status(results, _path(args.fleet_run))
    ssh = SshSettings(known_hosts=_path(args.known_hosts), accept_new_host_keys=args.accept_new_host_keys)
    options = FleetOptions(Path(args.inventory).resolve(), results, ssh, parse_limit(args.limit), args.forks)
    if args.fleet_command == "setup":
        return fleet_setup(options, _path(args.wheelhouse), apt=not args.no_apt)
    from harness.fleet.running import RunOptions, fleet_run

    if args.resume and (args.experiment or args.shard or args.calibration):
        raise UserError("--resume takes up a fleet run as it was started: drop EXPERIMENT, --shard and --calibration")
    if args.calibration and not args.shard:
        raise UserError("--calibration names the configuration every shard runs: add --shard, or drop it")
    if not args.resume and not args.experiment:
        raise UserError("arbench fleet run needs an experiment file (e.g. experiments/smoke.toml) or --resume results/fleet/ID")
    run = RunOptions(_path(args.experiment), _path(args.resume), args.poll_s, args.max_wait_s, args.shard, args.calibration)
    return fleet_run(options, run)
