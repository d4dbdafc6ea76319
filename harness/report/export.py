"""A figure's numbers as a table, written as LaTeX (booktabs), Markdown and HTML."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

__all__ = ["Table", "fmt", "fmt_ci"]

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "–": "--",
    "×": r"$\times$",
    "±": r"$\pm$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def fmt(value: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals, or an en dash when there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def fmt_ci(low: float | None, high: float | None, digits: int = 1) -> str:
    """A 95% interval as "low–high", or an en dash."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"{low:.{digits}f}–{high:.{digits}f}"


def _latex(text: str) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


@dataclass
class Table:
    """Rows of already formatted cells; the first ``label_columns`` columns are text (left-aligned)."""

    caption: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    label_columns: int = 1

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table with the caption above it."""
        align = ["---" if i < self.label_columns else "---:" for i in range(len(self.columns))]
        lines = [f"{self.caption}", "", "| " + " | ".join(self.columns) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def to_latex(self, label: str) -> str:
        """A booktabs table environment (the paper needs the booktabs package)."""
        spec = "l" * self.label_columns + "r" * (len(self.columns) - self.label_columns)
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{_latex(self.caption)}}}",
            rf"\label{{tab:{label.replace('_', '-')}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(_latex(c) for c in self.columns) + r" \\",
            r"\midrule",
            *(" & ".join(_latex(cell) for cell in row) + r" \\" for row in self.rows),
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
        ]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An HTML table with the caption."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f'<td class="{"l" if i < self.label_columns else "r"}">{html.escape(c)}</td>' for i, c in enumerate(row))
            + "</tr>"
            for row in self.rows
        )
        return f"<table><caption>{html.escape(self.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
