"""report.html: one self-contained page per run (figures as base64 PNG, tables, environment, validity, warnings).

Nothing in the page is fetched: no scripts, fonts or images from elsewhere. A few lines of inline script
count the figures the browser decoded (``data-figures-decoded`` on <body>), which the tests read back
from headless Chromium.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.report.checks import run_warnings
from harness.report.export import Table, fmt
from harness.report.figures import Drawn, Skipped, draw_all
from harness.report.style import paper_style
from harness.report.tables import COLUMNS, floor_lines, run_status_line
from harness.store.reader import Run

__all__ = ["REPORT_HTML", "render_html", "write_html_report"]

REPORT_HTML = "report.html"
HTML_DPI = 200
STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em;display:block;overflow-x:auto;max-width:100%}
caption{text-align:left;font-style:italic;padding:.3em 0}
th,td{padding:.2em .6em;border-bottom:1px solid #e4e4e4}th{border-bottom:2px solid #888;text-align:left}
td.r{text-align:right;font-variant-numeric:tabular-nums}td.l:first-child{white-space:nowrap}
figure{margin:1em 0}figure img{max-width:100%;height:auto}
.warn{background:#fff4e0;border-left:4px solid #E69F00;padding:.5em 1em}.ok{color:#009E73}
.skip{color:#666}code{font-size:.9em}
"""
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('figure img');
  var ok = 0;
  imgs.forEach(function (img) { if (img.complete && img.naturalWidth > 0) { ok += 1; } });
  document.body.setAttribute('data-figures-decoded', String(ok));
});
"""


def _png_base64(drawn: Drawn) -> str:
    buffer = io.BytesIO()
    with paper_style():
        drawn.figure.savefig(buffer, format="png", dpi=HTML_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_section(result: Drawn | Skipped) -> str:
    if isinstance(result, Skipped):
        return f'<li class="skip"><b>{html.escape(result.title)}</b>: skipped: {html.escape(result.reason)}</li>'
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    return (
        f'<section class="figure" id="{result.name}"><h3>{html.escape(result.title)}</h3>'
        f'<figure><img alt="{html.escape(result.title)}" src="data:image/png;base64,{_png_base64(result)}"></figure>'
        f"{result.table.to_html()}{f'<ul>{notes}</ul>' if notes else ''}</section>"
    )


def _pairs_table(caption: str, pairs: Sequence[tuple[str, Any]]) -> str:
    return Table(caption, ["item", "value"], [[k, _text(v)] for k, v in pairs], label_columns=2).to_html()


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "–" if value is None else str(value)


def _environment(manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    env = manifest.get("environment", {})
    cpu, osinfo, git = env.get("cpu", {}), env.get("os", {}), env.get("git", {})
    return [
        ("device profile", manifest.get("device", {}).get("name")),
        ("hostname", env.get("hostname")),
        ("CPU", f"{cpu.get('model')} ({cpu.get('logical_cores')} logical, {cpu.get('physical_cores')} physical cores)"),
        ("governors", sorted({str(g) for g in cpu.get("governor") or [] if g}) or "not readable"),
        ("memory (GiB)", fmt((env.get("memory_total_bytes") or 0) / 2**30)),
        ("OS", f"{osinfo.get('pretty_name')}, kernel {osinfo.get('kernel_release')} ({osinfo.get('machine')})"),
        ("board", env.get("device_model")),
        ("Python", env.get("python", {}).get("version") if isinstance(env.get("python"), dict) else env.get("python")),
        ("git", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}"),
        ("arbench", manifest.get("arbench_version")),
        ("started / finished (UTC)", f"{manifest.get('started_at_utc')} / {manifest.get('finished_at_utc')}"),
        ("not readable", env.get("unavailable")),
    ]


def _summary_table(summary: pd.DataFrame) -> str:
    names = [(c, t) for c, t in COLUMNS if c in summary.columns or c == "p50_ci"]
    rows = []
    for row in summary.to_dict("records"):
        cells = []
        for column, _ in names:
            value = (row.get("p50_ci_low_ms"), row.get("p50_ci_high_ms")) if column == "p50_ci" else row.get(column)
            cells.append(_cell(value))
        rows.append(cells)
    return Table("summary.csv (latency in ms).", [t for _, t in names], rows, label_columns=2).to_html()


def _validity(manifest: dict[str, Any]) -> list[tuple[str, Any]]:
    """The validity flags; a throttling verdict nobody could check reads "unknown", not empty."""
    flags = manifest.get("validity", {})
    return [(k, "unknown" if k == "throttled" and v is None else v) for k, v in flags.items()]


def _floor(summary: pd.DataFrame) -> str:
    """The time inside the models beside the frame's, per configuration (where the backends measure it)."""
    lines = floor_lines(summary)
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>" if lines else ""


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        low, high = value
        return "" if pd.isna(low) else f"{low:.1f}–{high:.1f}"
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{value:.3g}" if isinstance(value, float) and abs(value) < 10 else (f"{value:.1f}" if isinstance(value, float) else str(value))


def render_html(run: Run, summary: pd.DataFrame, results: Sequence[Drawn | Skipped]) -> str:
    """The page as a string."""
    manifest = run.manifest
    experiment = manifest.get("experiment", {})
    warnings = run_warnings(run, summary)
    warn_html = (
        '<div class="warn"><ul>' + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul></div>"
        if warnings
        else '<p class="ok">No warnings.</p>'
    )
    drawn = "".join(_figure_section(r) for r in results if isinstance(r, Drawn))
    skipped = "".join(_figure_section(r) for r in results if isinstance(r, Skipped))
    title = f"arbench run {manifest.get('run_id')}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}: {html.escape(str(experiment.get('name')))}</h1>"
        f"<p>{html.escape(str(experiment.get('description') or ''))}</p><p>{html.escape(run_status_line(run))}</p>"
        f"<h2>Warnings</h2>{warn_html}<h2>Figures</h2>{drawn}{f'<ul>{skipped}</ul>' if skipped else ''}"
        f"<h2>Summary</h2>{_summary_table(summary)}{_floor(summary)}"
        f"<h2>Environment</h2>{_pairs_table('From manifest.json (collected automatically).', _environment(manifest))}"
        f"<h2>Validity</h2>{_pairs_table('manifest.json validity flags.', _validity(manifest))}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def write_html_report(run: Run, summary: pd.DataFrame) -> Path:
    """Draw every figure of ``run`` and write RUN/report.html; return its path."""
    try:
        results: list[Drawn | Skipped] = draw_all([run])
    except UserError as nothing:  # no configuration measured a frame: the page still shows why
        results = [Skipped("figures", "Figures", str(nothing))]
    path = run.path / REPORT_HTML
    path.write_text(render_html(run, summary, results), encoding="utf-8")
    return path
