"""Load benchmark of `arbench serve`: many concurrent clients against real backends, on loopback.

For each worker count, a server is started with the given config (``--workers W``), warmed up, and then
``--clients`` clients each POST a frame (a synthetic sign, JPEG) to ``/v1/frame`` over and over for
``--seconds``, in ``--rounds`` rounds. A client that is refused (503) waits the ``Retry-After`` it was
given before its next request. Every request ends one of three ways: answered (200), refused (503; the
benchmark records how long the refusal took), or lost (a timeout, a dropped connection, any other
status). Per worker count and round it writes: answered within the round, answered after it (sent in
time, answered late), refused, lost; throughput (answers within the round over its length); p50 and p99
of all answered requests; the slowest refusal; and the server's resident set (VmRSS of the
server process and its worker processes together) at the end of the round, so growth between rounds
shows. ``--isolation process thread`` measures both kinds of stage worker, one after the other.

    python -m harness.offload.loadbench --config experiments/servers/offload.toml --workers 1 2 --out results/loadbench

It is a benchmark, not a test: it writes figures (``loadbench.json`` and a table on stdout) and asserts
nothing. Loopback only; the server's threads per backend are ``--threads`` (1 by default, so workers
share the cores instead of each taking all of them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harness.offload.client import OffloadClient, OffloadError
from harness.offload.launch import ServerProcess
from harness.offload.wire import encode_image
from harness.sources.synthetic import SceneOptions, generate_scene

__all__ = ["RoundResult", "main", "run_round"]


@dataclass
class RoundResult:
    """One round at one worker count."""

    workers: int
    isolation: str
    round: int
    clients: int
    seconds: float
    answered: int = 0  # answers that arrived within the round's window
    answered_late: int = 0  # answers to requests sent in the window that arrived after it (not in throughput)
    refused: int = 0
    lost: int = 0
    throughput_fps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    slowest_refusal_ms: float | None = None
    server_rss_mb: float | None = None
    lost_reasons: list[str] = field(default_factory=list)


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` and every process below it, MB; None when ``pid`` is gone."""
    statuses = {int(p.name): _status(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    if "VmRSS" not in statuses.get(pid, {}):
        return None
    tree, grew = {pid}, True
    while grew:
        below = {child for child, status in statuses.items() if status.get("PPid", "").strip().isdigit() and int(status["PPid"]) in tree}
        grew = not below <= tree
        tree |= below
    return sum(int(statuses[p]["VmRSS"].split()[0]) for p in tree if "VmRSS" in statuses[p]) / 1024


def _frame() -> bytes:
    image, _ = generate_scene(SceneOptions(seed=3, n=1, difficulty="easy"), 0)
    data, _ = encode_image(image, "jpeg", 90)
    return data


def _client(server: ServerProcess, body: bytes, until: float, timeout_s: float, result: RoundResult, times: list[float],
            refusals: list[float], lock: threading.Lock) -> None:  # fmt: skip
    client = OffloadClient(server.url, server.token, timeout_s)
    try:
        while time.monotonic() < until:
            start = time.monotonic()
            try:
                client.post("/v1/frame", body, "image/jpeg")
            except OffloadError as exc:
                took = time.monotonic() - start
                with lock:
                    if "HTTP 503" in str(exc):
                        result.refused += 1
                        refusals.append(took)
                    else:
                        result.lost += 1
                        result.lost_reasons.append(str(exc)[:120])
                if "HTTP 503" in str(exc):
                    time.sleep(1.0)  # Retry-After is whole seconds, at least 1
                continue
            done = time.monotonic()
            with lock:
                if done <= until:
                    result.answered += 1
                else:
                    result.answered_late += 1
                times.append(done - start)
    finally:
        client.close()


def run_round(server: ServerProcess, body: bytes, workers: int, isolation: str, index: int, clients: int, seconds: float,
              timeout_s: float) -> RoundResult:  # fmt: skip
    """``clients`` threads posting for ``seconds``; what they got."""
    result = RoundResult(workers, isolation, index, clients, seconds)
    times: list[float] = []
    refusals: list[float] = []
    lock = threading.Lock()
    until = time.monotonic() + seconds
    work = (server, body, until, timeout_s, result, times, refusals, lock)
    threads = [threading.Thread(target=_client, args=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + timeout_s + 30)
    result.throughput_fps = result.answered / seconds
    if times:
        result.p50_ms = 1e3 * statistics.median(times)
        result.p99_ms = 1e3 * float(np.percentile(times, 99))
    result.slowest_refusal_ms = 1e3 * max(refusals) if refusals else None
    result.server_rss_mb = _rss_mb(server.process.pid)
    return result


def _table(results: list[RoundResult]) -> str:
    columns = [
        ("workers", 7, lambda r: f"{r.workers}"),
        ("isolation", 9, lambda r: r.isolation),
        ("round", 5, lambda r: f"{r.round + 1}"),
        ("answered", 8, lambda r: f"{r.answered}"),
        ("late", 4, lambda r: f"{r.answered_late}"),
        ("refused", 7, lambda r: f"{r.refused}"),
        ("lost", 4, lambda r: f"{r.lost}"),
        ("fps", 6, lambda r: f"{r.throughput_fps:.2f}"),
        ("p50 ms", 8, lambda r: f"{r.p50_ms or float('nan'):.0f}"),
        ("p99 ms", 8, lambda r: f"{r.p99_ms or float('nan'):.0f}"),
        ("refusal max ms", 14, lambda r: f"{r.slowest_refusal_ms or float('nan'):.1f}"),
        ("RSS MB", 7, lambda r: f"{r.server_rss_mb or float('nan'):.0f}"),
    ]
    lines = [" ".join(f"{name:>{width}}" for name, width, _ in columns)]
    lines += [" ".join(f"{cell(r):>{width}}" for _, width, cell in columns) for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark for each worker count; print the table and write ``loadbench.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="server TOML (default: null backends)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--isolation", nargs="+", choices=("process", "thread"), default=["process"], help="stage workers as processes or threads"
    )
    parser.add_argument("--threads", type=int, default=1, help="compute threads per backend in the server")
    parser.add_argument("--max-queue", type=int, default=8)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=30.0, help="each client's timeout (sent as its deadline)")
    parser.add_argument("--out", type=Path, default=Path("results") / "loadbench")
    args = parser.parse_args(argv)
    body = _frame()
    results: list[RoundResult] = []
    for isolation, workers in ((i, w) for i in args.isolation for w in args.workers):
        extra = ("--workers", str(workers), "--isolation", isolation, "--threads", str(args.threads), "--max-queue", str(args.max_queue))
        with ServerProcess(args.config, "127.0.0.1", 0, extra=extra) as server:
            warm = OffloadClient(server.url, server.token, args.timeout_s)
            for _ in range(3 * workers):
                warm.post("/v1/frame", body, "image/jpeg")  # every worker's backends loaded and warm
            warm.close()
            for index in range(args.rounds):
                results.append(run_round(server, body, workers, isolation, index, args.clients, args.seconds, args.timeout_s))
                print(_table(results[-1:]).splitlines()[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "frame_bytes": len(body)}
    (args.out / "loadbench.json").write_text(json.dumps(record | {"rounds": [asdict(r) for r in results]}, indent=2) + "\n")
    print(_table(results))
    print(f"wrote {args.out / 'loadbench.json'}")


if __name__ == "__main__":
    main()
