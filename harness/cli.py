"""The `arbench` command. User errors print one line and exit with code 2; bugs keep their traceback."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from harness import __version__
from harness.errors import RunInterrupted, UserError

__all__ = ["main"]


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.devices import resolve_device
    from harness.run.experiment import load_experiment
    from harness.run.orchestrate import run_experiment
    from harness.run.preflight import preflight
    from harness.run.resume import prepare_resume, read_resumable, resume_key
    from harness.system.environment import detect_device

    resumed = read_resumable(Path(args.resume)) if args.resume else None
    if args.experiment is None and resumed is None:
        raise UserError("arbench run needs an experiment file (e.g. experiments/default.toml) or --resume RUN")
    path = Path(args.experiment) if args.experiment else Path(resumed["experiment"]["path"])
    experiment = load_experiment(path)
    only = tuple(resumed["experiment"].get("only", [])) if resumed is not None else _config_ids(args.configs)
    if only:
        experiment = experiment.select(only)
    device = resolve_device(args.device if args.device != "auto" or resumed is None else resumed["device"]["name"])
    experiment = preflight(experiment, device)
    detected = detect_device()
    key = resume_key(path, experiment.raw, detected)
    resume = None
    if resumed is not None:
        resume = prepare_resume(Path(args.resume), resumed, [c.config_id for c in experiment.configurations()], key, args.force)
        print(
            f"arbench: resuming {args.resume}: {len(resume.superseded)} unfinished (configuration, round) measured again", file=sys.stderr
        )
    for component_id, why in experiment.skipped:
        print(f"arbench: skipping optional {component_id!r}: {why}", file=sys.stderr)
    if args.require_accel:
        device = dataclasses.replace(device, require_accel=True)
    folder = None
    if device.name != detected and resumed is None:
        if not args.allow_device_mismatch:
            raise UserError(
                f"--device {device.name}: this machine is detected as {detected!r}, so its numbers would be labelled as a"
                f" {device.name} run; use --device auto (or {detected}), or add --allow-device-mismatch to measure the"
                f" {device.name} profile here (stored under {Path(args.out) / detected}/ with the profile recorded)"
            )
        folder = detected
        print(f"arbench: warning: profile {device.name!r} on a machine detected as {detected!r}: stored under {detected}/", file=sys.stderr)
    print(f"arbench: {experiment.name}: {len(experiment.configurations())} configuration(s) on device {device.name}", file=sys.stderr)
    run_dir = run_experiment(experiment, device, Path(args.out), resume_key=key, resume=resume, folder=folder)
    _cmd_report(argparse.Namespace(run=str(run_dir), markdown=False, rebuild=False))
    failed = _print_failures(run_dir)
    print(run_dir)
    return 1 if failed == len(experiment.configurations()) else 0


def _config_ids(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())


def _print_failures(run_dir: Path) -> int:
    """Say on stderr which configurations failed and why; return how many."""
    from harness.store.reader import load_run

    outcomes = load_run(run_dir).manifest.get("configurations", [])
    failed = [o for o in outcomes if o.get("status") == "failed"]
    for outcome in failed:
        print(f"arbench: {outcome['config_id']}: failed: {outcome.get('reason')}", file=sys.stderr)
    return len(failed)


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report.checks import run_warnings
    from harness.report.tables import floor_lines, markdown_table, overhead_lines, rate_lines, run_status_line, run_summary, terminal_table
    from harness.store.reader import load_run

    run = load_run(Path(args.run), read_summary=not args.rebuild)
    if args.rebuild:  # summary.csv written anew from frames.jsonl (a damaged or missing one)
        from harness.store.summary import summarize

        records = run.frames.to_dict("records") if not run.frames.empty else []
        rebuilt = summarize(records, run.manifest.get("configurations", []))
        partial = run.path / "summary.csv.tmp"
        rebuilt.to_csv(partial, index=False, float_format="%.6g")
        partial.replace(run.path / "summary.csv")
        run = load_run(Path(args.run))
    summary = run_summary(run)
    status = run_status_line(run)
    warnings = [f"warning: {line}" for line in run_warnings(run, summary)]
    notes = "\n".join([*rate_lines(summary), *floor_lines(summary), *overhead_lines(summary), *warnings])
    markdown = f"# arbench run {run.manifest['run_id']}\n\n{status}\n\n{markdown_table(summary)}\n\n{notes}\n"
    (run.path / "report.md").write_text(markdown, encoding="utf-8")
    print(markdown if args.markdown else f"{status}\n{terminal_table(summary)}\n{notes}")
    from harness.report.html import write_html_report

    print(f"arbench: wrote {write_html_report(run, summary)}", file=sys.stderr)
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from harness.report.figures import figures_command

    for line in figures_command([Path(r) for r in args.runs], Path(args.out) if args.out else None, Path(args.results)):
        print(line)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from harness.report.compare import compare_report

    if args.run_b is not None:
        print(compare_report(Path(args.run_a), Path(args.run_b), markdown=args.markdown))
        return 0
    from harness.report.figures import fleet_runs

    if not (Path(args.run_a) / "fleet.json").is_file():
        raise UserError(f"compare needs RUN_B, or a fleet run folder (results/fleet/ID) as RUN_A; {args.run_a} is neither")
    reference, *others = fleet_runs(Path(args.run_a))
    if not others:
        raise UserError(f"fleet run {args.run_a} gathered one run only ({reference}); nothing to compare it with")
    for other in others:
        print(f"{other} against {reference}:\n{compare_report(reference, other, markdown=args.markdown)}\n")
    return 0


def _cmd_check_transfer(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError
    from harness.report.transfer import Margins, transfer_report

    margins = Margins(hmean=args.hmean, chrf=args.chrf, wer_points=args.wer, latency_pct=args.latency_pct)
    sources = {}
    for pair in args.source:
        a, sep, b = pair.partition("=")
        if not (sep and a and b):
            raise ConfigError(f"--source {pair!r}: expected A_ID=B_ID, e.g. --source ic15-tune=ic15-test")
        sources[a] = b
    print(transfer_report(Path(args.run_a), Path(args.run_b), margins, sources, markdown=args.markdown))
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from harness.devices import devices_dir, load_device
    from harness.system.environment import detect_device

    detected = detect_device()
    for path in sorted(devices_dir().glob("*.toml")):
        profile = load_device(path.stem)
        mark = "*" if profile.name == detected else " "
        sensors = ", ".join(profile.sensors) or "none"
        print(f"{mark} {profile.name:12} threads={profile.threads or 'auto':<4} sensors={sensors:28} {profile.description}")
    print(f"(* = detected here: DEVICE=auto picks {detected})")
    from harness.system.cpu import capture_cpu

    cpu = capture_cpu()
    kernels = cpu.get("int8_kernels") or {}
    print(f"instruction set here: {cpu.get('isa')} ({' '.join(cpu.get('simd_features') or []) or 'no SIMD features listed'})")
    how, ort, ct2 = kernels.get("how", "unknown"), kernels.get("onnxruntime"), kernels.get("ctranslate2")
    print(f"int8 kernels ({how}): ONNX Runtime {ort}; CTranslate2 {ct2}")
    if cpu.get("simd_cpuinfo_differs"):
        print(f"note: read from {cpu.get('simd_source')}; {cpu['simd_cpuinfo_differs']}")
    from harness.devices import accelerators_here

    print("accelerators here:")
    for line in accelerators_here():
        print(f"  {line}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from harness.errors import DataMissing
    from harness.models.manifest import load_manifest
    from harness.models.verify import verify_model

    print(f"{'state':8} {'id':26} {'task':7} {'backend':12} {'precision':10} {'MB':>6}  source")
    for entry in load_manifest():
        try:
            paths, state = verify_model(entry), "present"
        except DataMissing as exc:
            paths, state = [], ("absent" if "missing" in str(exc) else "CORRUPT")
        size_mb = f"{sum(p.stat().st_size for p in paths) / 1e6:6.2f}" if paths else f"{'-':>6}"
        print(f"{state:8} {entry.id:26} {entry.task:7} {entry.backend:12} {entry.precision:10} {size_mb}  {entry.source}")
    print("(present: files there and matching their pinned sha256; `arbench models build` makes those built by recipes)")
    return 0


def _cmd_models_fetch(args: argparse.Namespace) -> int:
    from harness.models.fetch import cmd_models_fetch

    return cmd_models_fetch(args)


def _cmd_models_build(args: argparse.Namespace) -> int:
    from harness.models.recipes.build import build_models

    build_models(force=args.force)
    return 0


def _cmd_data_synth(args: argparse.Namespace) -> int:
    from harness.sources.synthetic import SceneOptions, write_scene_set

    options = SceneOptions(seed=args.seed, n=args.n, difficulty=args.difficulty, width_px=args.width, height_px=args.height)
    print(write_scene_set(options, Path(args.out)))
    return 0


def _cmd_data_video(args: argparse.Namespace) -> int:
    from harness.sources.synth_video import SyntheticVideoOptions, write_synthetic_video

    options = SyntheticVideoOptions(
        seed=args.seed,
        motion=args.motion,
        fps=args.fps,
        duration_s=args.duration,
        width_px=args.width,
        height_px=args.height,
        difficulty=args.difficulty,
        signs=args.signs,
    )
    print(write_synthetic_video(options, Path(args.out)))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from harness.server.app import serve
    from harness.server.config import load_server_config

    overrides = {"host": args.host, "port": args.port, "token_env": args.token_env, "max_upload_bytes": args.max_upload_bytes}
    overrides |= {"workers": args.workers, "threads": args.threads, "max_queue": args.max_queue, "isolation": args.isolation}
    config = load_server_config(Path(args.config) if args.config else None, ocr=args.ocr, mt=args.mt, **overrides)
    serve(config, announce=lambda line: print(line, flush=True))
    return 0


def _cmd_network(args: argparse.Namespace) -> int:
    from harness.network.commands import run_network_command

    return run_network_command(args)


def _cmd_fleet(args: argparse.Namespace) -> int:
    from harness.fleet.args import run_fleet_command

    return run_fleet_command(args)


def _cmd_sensors(args: argparse.Namespace) -> int:
    from harness.energy.commands import sensor_lines

    print("\n".join(sensor_lines(Path(args.root))))
    return 0


def _cmd_system(args: argparse.Namespace) -> int:
    from harness.system.commands import system_lines, tune_lines

    if args.action == "tune":
        from harness.devices import resolve_device

        profile = resolve_device(args.device)
        lines = tune_lines(profile.power_modes, args.mode, profile.name)
    else:
        lines = system_lines(Path(args.root))
    print("\n".join(lines))
    return 0


def _add_offload_parsers(commands: argparse._SubParsersAction) -> None:
    from harness.fleet.args import add_fleet_parser
    from harness.network.commands import add_network_parser

    serve = commands.add_parser("serve", help="serve the stages over HTTP for offloaded placements (needs the offload extra)")
    serve.add_argument("--config", help="server TOML ([server], [ocr], [mt]); default: null backends")
    serve.add_argument("--host", help="bind address (default 127.0.0.1; any other needs a token in --token-env)")
    serve.add_argument("--port", type=int, help="port (default 8750; 0: any free port, printed on stdout)")
    serve.add_argument("--ocr", help="OCR backend with default options, instead of the config's [ocr]")
    serve.add_argument("--mt", help="MT backend with default options, instead of the config's [mt]")
    serve.add_argument("--token-env", help="environment variable holding the bearer token (default ARBENCH_SERVER_TOKEN)")
    serve.add_argument("--max-upload-bytes", type=int, help="largest request body accepted (default 8000000)")
    serve.add_argument("--workers", type=int, help="stage workers, each with its own backends (default 1; 0: the cores over --threads)")
    serve.add_argument("--threads", type=int, help="compute threads per backend (default 0: the runtime's default)")
    serve.add_argument("--isolation", choices=("process", "thread"), help="each stage worker a process (default) or a thread")
    serve.add_argument("--max-queue", type=int, help="requests that may wait for a worker; more get 503 at once (default 8)")
    serve.set_defaults(handler=_cmd_serve)
    network = commands.add_parser("network", help="network profiles, shaping check, analytic sweep of an offload run")
    add_network_parser(network)
    network.set_defaults(handler=_cmd_network)
    fleet = commands.add_parser("fleet", help="one experiment on many devices from this host, over Ansible (needs the fleet extra)")
    add_fleet_parser(fleet)
    fleet.set_defaults(handler=_cmd_fleet)


def _add_figure_commands(commands: argparse._SubParsersAction) -> None:
    """`arbench report`, `figures`, `compare` and `check-transfer`: they read stored runs only."""
    report = commands.add_parser("report", help="summary table of a run (also written to RUN/report.md, with figures to RUN/report.html)")
    report.add_argument("run", help="run directory printed by `arbench run`")
    report.add_argument("--markdown", action="store_true", help="print Markdown instead of a plain table")
    report.add_argument("--rebuild", action="store_true", help="write summary.csv anew from frames.jsonl first (a damaged or missing one)")
    report.set_defaults(handler=_cmd_report)
    figures = commands.add_parser("figures", help="paper figures (PDF, PNG) and tables (LaTeX, Markdown) from stored runs")
    figures.add_argument(
        "runs", nargs="*", metavar="RUN", help="run directories or fleet runs (results/fleet/ID: devices side by side); default: the latest"
    )
    figures.add_argument("--out", help="output folder (default: RUN/figures; required for several runs)")
    figures.add_argument("--results", default="results", help="results root searched for the latest run (default: results)")
    figures.set_defaults(handler=_cmd_figures)
    compare = commands.add_parser("compare", help="per configuration and stage: median B/A, flagged only beyond noise")
    compare.add_argument("run_a", metavar="RUN_A", help="baseline run directory, or a fleet run (results/fleet/ID)")
    compare.add_argument(
        "run_b",
        metavar="RUN_B",
        nargs="?",
        help="run directory compared with it (omitted: RUN_A is a fleet run; each device against its first)",
    )
    compare.add_argument("--markdown", action="store_true", help="print Markdown instead of a plain table")
    compare.set_defaults(handler=_cmd_compare)
    transfer = commands.add_parser(
        "check-transfer", help="per configuration and figure: equivalent, different or undecided between two runs (TOST)"
    )
    transfer.add_argument("run_a", metavar="RUN_A", help="one run directory (e.g. on the tuning split, or machine A)")
    transfer.add_argument("run_b", metavar="RUN_B", help="the other (the test split, or machine B)")
    transfer.add_argument(
        "--source", action="append", default=[], metavar="A_ID=B_ID", help="compare source A_ID of RUN_A with B_ID of RUN_B (repeatable)"
    )
    transfer.add_argument("--hmean", type=float, default=0.01, help="margin of det/e2e hmean and word recall (default 0.01)")
    transfer.add_argument("--chrf", type=float, default=1.0, help="margin of chrF, points (default 1)")
    transfer.add_argument("--wer", type=float, default=0.5, help="margin of word error rate, points (default 0.5)")
    transfer.add_argument("--latency-pct", type=float, default=5.0, help="margin of the e2e median latency ratio, %% (default 5)")
    transfer.add_argument("--markdown", action="store_true", help="print Markdown instead of a plain table")
    transfer.set_defaults(handler=_cmd_check_transfer)


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run an experiment; prints the run directory last")
    run.add_argument("experiment", nargs="?", help="experiment TOML file, e.g. experiments/default.toml (with --resume: the run's own)")
    run.add_argument("--device", default="auto", help="device profile: auto (detect), laptop, gpu-server, jetson, jetson-nano, rpi4, rpi5")
    run.add_argument(
        "--require-accel",
        action="store_true",
        help="exit 2 when a backend would run below the profile's first provider (e.g. CPU on a jetson)",
    )
    run.add_argument(
        "--allow-device-mismatch",
        action="store_true",
        help="run a profile on a machine detected as another device (stored under the detected device's folder)",
    )
    run.add_argument("--out", default="results", help="results root (default: results)")
    run.add_argument("--configs", help="only these configuration ids of the experiment's matrix, comma-separated (a fleet shard)")
    run.add_argument("--resume", metavar="RUN", help="continue a killed or interrupted run: finished configurations and rounds are kept")
    run.add_argument(
        "--force", action="store_true", help="with --resume: resume although code, experiment, models or device changed (recorded)"
    )
    run.set_defaults(handler=_cmd_run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arbench", description="Benchmark on-device AR translation: capture → OCR → MT → overlay.")
    parser.add_argument("--version", action="version", version=f"arbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_run_parser(commands)

    _add_figure_commands(commands)

    commands.add_parser("devices", help="list device profiles and the detected device").set_defaults(handler=_cmd_devices)
    models = commands.add_parser("models", help="list known models and whether they are present; build the project's own")
    models.set_defaults(handler=_cmd_models)
    model_commands = models.add_subparsers(dest="models_command", metavar="WHAT")
    model_commands.add_parser("list", help="list models, their state and size (the default)").set_defaults(handler=_cmd_models)
    build = model_commands.add_parser("build", help="build recipe-made models that are missing or stale (cached by input hash)")
    build.add_argument("--force", action="store_true", help="rebuild even when up to date or cached")
    build.set_defaults(handler=_cmd_models_build)
    fetch = model_commands.add_parser("fetch", help="download an OPUS-MT model and convert it to CTranslate2 (float32 and int8)")
    fetch.add_argument("name", help="opus-mt-en-es or opus-mt-en-de")
    fetch.add_argument("--dest", help="output folder (default: models/NAME)")
    fetch.add_argument("--from", dest="source", metavar="DIR", help="convert this local Transformers model folder instead of downloading")
    fetch.add_argument(
        "--quantization", action="append", help="float32, int8, int8_float32, int16, ... (repeatable; default: float32 and int8)"
    )
    fetch.add_argument("--force", action="store_true", help="convert again even when the outputs match their records")
    fetch.set_defaults(handler=_cmd_models_fetch)

    _add_offload_parsers(commands)
    data = commands.add_parser("data", help="generate workloads").add_subparsers(dest="data_command", required=True, metavar="WHAT")
    synth = data.add_parser("synth", help="write a deterministic synthetic sign scene set with ground truth")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--n", type=int, default=16, help="number of scenes")
    synth.add_argument("--difficulty", default="easy", help="easy, medium or hard")
    synth.add_argument("--width", type=int, default=960, help="image width in pixels")
    synth.add_argument("--height", type=int, default=540, help="image height in pixels")
    synth.add_argument("--out", required=True, help="output folder")
    synth.set_defaults(handler=_cmd_data_synth)
    video = data.add_parser("video", help="write a deterministic synthetic camera video with per-frame ground truth")
    video.add_argument("--seed", type=int, default=0)
    video.add_argument("--motion", default="pan", help="pan, zoom, shake or walk")
    video.add_argument("--fps", type=float, default=30.0, help="frames per second")
    video.add_argument("--duration", type=float, default=4.0, help="length in seconds")
    video.add_argument("--width", type=int, default=640, help="frame width in pixels")
    video.add_argument("--height", type=int, default=360, help="frame height in pixels")
    video.add_argument("--difficulty", default="easy", help="easy, medium or hard")
    video.add_argument("--signs", type=int, default=2, help="signs along the street")
    video.add_argument("--out", required=True, help="output folder")
    video.set_defaults(handler=_cmd_data_video)
    _add_sensor_parsers(commands)
    return parser


def _add_sensor_parsers(commands: argparse._SubParsersAction) -> None:
    sensors = commands.add_parser("sensors", help="energy sensors detected here, and why the others are not")
    sensors.add_argument("--root", default="/", help="read /sys and /proc below this folder (a fake tree)")
    sensors.set_defaults(handler=_cmd_sensors)
    system = commands.add_parser("system", help="show the state runs record (governor, nvpmodel, jetson_clocks, throttling) or tune it")
    system.add_argument("action", choices=["show", "tune"], help="show: print the state; tune: apply a power mode (needs root)")
    system.add_argument("--root", default="/", help="show: read /sys and /proc below this folder (a fake tree)")
    system.add_argument("--device", default="auto", help="tune: device profile whose power_modes to apply")
    system.add_argument("--mode", help="tune: power mode name (default: the profile's first)")
    system.set_defaults(handler=_cmd_system)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UserError as exc:
        print(f"arbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RunInterrupted as stop:
        print(
            f"arbench: interrupted; the frames measured so far are kept in {stop.run_dir}; "
            f"continue with: arbench run --resume {stop.run_dir}",
            file=sys.stderr,
        )
        return 130
    except KeyboardInterrupt:
        print("arbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `arbench report RUN | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # a path that cannot be read or written: the user's to fix
        print(f"arbench: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
