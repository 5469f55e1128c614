"""What ``./deploy`` reports: one :class:`Result` per flow, as a table, Markdown or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

from .branches import BranchDecision


@dataclass
class Result:
    flow: str
    file: str
    command: List[str]
    status: str  # "ok" | "failed" | "planned" | "skipped"
    seconds: float
    error: Optional[str]
    stderr: str = ""

    def as_dict(self) -> Dict[str, object]:
        out = asdict(self)
        del out["stderr"]
        return out


def summary_table(results: Sequence[Result], decision: BranchDecision) -> str:
    """A plain-text table: flow, branch, result, seconds, error."""
    rows = [("flow", "branch", "result", "seconds", "error")]
    rows += [(r.flow, decision.namespace, r.status, "%.1f" % r.seconds, r.error or "") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    return "\n".join(line.rstrip() for line in lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(results: Sequence[Result], decision: BranchDecision, *, title: str) -> str:
    """The summary as a Markdown table (for GitHub's job summary, ``$GITHUB_STEP_SUMMARY``)."""
    lines = [
        "### %s" % _md_cell(title),
        "",
        _md_cell(describe(decision)),
        "",
        "| flow | file | branch | result | seconds | error |",
        "|---|---|---|---|---:|---|",
    ]
    for r in results:
        cells = (r.flow, r.file, decision.namespace, r.status, "%.1f" % r.seconds, r.error or "")
        lines.append("| %s |" % " | ".join(_md_cell(c) for c in cells))
    return "\n".join(lines) + "\n"


def with_file(r: Result) -> str:
    # An error about the file itself (no flow class, syntax) starts with its name already.
    error = r.error or ""
    return error if error.startswith(r.file) else "%s: %s" % (r.file, error)


def describe(decision: BranchDecision) -> str:
    where = "production (--production)" if decision.production else "--branch %s" % decision.metaflow_branch
    return "git branch %r (from %s) -> %s, Metaflow branch %s" % (
        decision.git_branch,
        decision.source,
        where,
        decision.namespace,
    )


# How many lines after Metaflow's "<headline>:" line can belong to its message.
MESSAGE_LINES = 6


def error_line(stderr: str) -> str:
    """The one line of a failed command's stderr that says what went wrong."""
    # Python ends with the exception line of its traceback. Metaflow ends with
    # "<headline>:" and the message, often over several lines whose last one is a mere
    # tail ("... or equivalent through your favorite Python package manager."): the row
    # shows the whole message on one line.
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "failed with no output"
    if not any(line.startswith("Traceback (most recent call last)") for line in lines):
        for i in range(len(lines) - 2, max(len(lines) - 2 - MESSAGE_LINES, -1), -1):
            if lines[i].endswith(":"):
                return " ".join(lines[i + 1 :])[:300]
    return lines[-1][:300]
