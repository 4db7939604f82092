"""Medians over the runs, the ratios, and the markdown table.

The table has one row per scenario and target: median req/s (and each run's), median p50 and
p99, errors, the share of the bcrypt ceiling (signin, signup), how authkit compares with that
target, and how much of CPU 0 something else took during the worst run. A second small table
gives each target's memory.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.measure import Row

__all__ = ["Report", "TargetRun", "format_ms", "format_rate", "median", "render"]

SCENARIO_LABELS = {
    "me": "GET /auth/me",
    "signin": "POST /auth/signin",
    "signup": "POST /auth/signup",
    "notfound": "GET /bench-not-found (404)",
}
# signin checks a password, signup hashes a new one: each against its own ceiling
CEILING_OF = {"signin": "checkpw_per_s", "signup": "hashpw_per_s"}
SHARED_CPU_WARNING = 10  # % of CPU 0 used by others or stolen in a run: flagged


@dataclass
class TargetRun:
    """One target in one round: its rows by scenario, its memory, or what went wrong."""

    target: str
    round: int
    rows: dict[str, Row] = field(default_factory=dict)
    idle_rss_mib: float | None = None
    peak_rss_mib: float | None = None
    error: str | None = None


@dataclass
class Report:
    scenarios: list[str]
    targets: list[tuple[str, str]]  # (name, label) in table order
    runs: list[TargetRun]
    ceilings: list[dict[str, Any]]
    notes: list[str]
    extras: str = ""  # the opt-in scenarios' sections (extras_report.extras_render)
    extra_warnings: list[str] = field(default_factory=list)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _rows(report: Report, target: str, scenario: str) -> list[Row]:
    return [r.rows[scenario] for r in report.runs if r.target == target and scenario in r.rows]


def median_rps(report: Report, target: str, scenario: str) -> float | None:
    return median([row.rps for row in _rows(report, target, scenario)])


def ceiling(report: Report, scenario: str) -> float | None:
    key = CEILING_OF.get(scenario)
    return median([c[key] for c in report.ceilings if key]) if key else None


def format_rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _errors(rows: list[Row], scenario: str) -> str:
    non2xx = median([row.non2xx for row in rows])
    sockets = sorted({row.socket_errors for row in rows if row.socket_errors != "none"})
    text = "-" if non2xx is None else f"{non2xx:.0f}"
    if scenario == "notfound" and rows and all(row.non2xx == row.requests for row in rows):
        text = "all (404, expected)"
    return text + (f"; socket errors: {'; '.join(sockets)}" if sockets else "")


def _versus(report: Report, target: str, scenario: str) -> str:
    """authkit ÷ target, or authkit's share of hello."""
    if target == "authkit":
        return "—"
    ours, theirs = median_rps(report, "authkit", scenario), median_rps(report, target, scenario)
    if ours is None or not theirs:
        return "-"
    if target == "hello":
        share = f"authkit = {ours / theirs * 100:.0f}% of hello"
        quiet = median_rps(report, "authkit-quiet", scenario)
        if quiet is not None:
            share += f"; no access log: {quiet / theirs * 100:.0f}%"
        return share
    return f"{ours / theirs:.2f}x"


def _runs_cell(report: Report, target: str, scenario: str) -> str:
    cells = []
    for run in sorted((r for r in report.runs if r.target == target), key=lambda r: r.round):
        row = run.rows.get(scenario)
        cells.append(format_rate(row.rps) if row else "failed")
    return " / ".join(cells)


def table(report: Report) -> str:
    lines = [
        "| scenario | target | req/s (median) | each run | p50 | p99 | non-2xx | "
        "% of bcrypt ceiling | authkit vs this | cpu0 other/steal % (worst run) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in report.scenarios:
        for name, label in report.targets:
            if name == "hello" and scenario != "me":
                continue  # hello only has `GET /`, measured as the /auth/me baseline
            rows = _rows(report, name, scenario)
            answered = [r for r in rows if r.requests]  # wrk prints 0 latencies for none
            rps = median_rps(report, name, scenario)
            limit = ceiling(report, scenario)
            share = f"{rps / limit * 100:.0f}%" if rps is not None and limit else ""
            worst = max(rows, key=lambda r: r.cpu_other + r.cpu_steal, default=None)
            lines.append(
                f"| {SCENARIO_LABELS[scenario]} | {label} | **{format_rate(rps)}** | "
                f"{_runs_cell(report, name, scenario)} | "
                f"{format_ms(median([r.p50_ms for r in answered]))} | "
                f"{format_ms(median([r.p99_ms for r in answered]))} | {_errors(rows, scenario)} | "
                f"{share} | {_versus(report, name, scenario)} | "
                f"{f'{worst.cpu_other}/{worst.cpu_steal}' if worst else '-'} |"
            )
    return "\n".join(lines)


def memory_table(report: Report) -> str:
    lines = [
        "| target | RSS after start, idle (MiB, median) | peak RSS (MiB, VmHWM, highest run) |",
        "|---|---|---|",
    ]
    for name, label in report.targets:
        runs = [r for r in report.runs if r.target == name]
        idle = median([r.idle_rss_mib for r in runs if r.idle_rss_mib is not None])
        peaks = [r.peak_rss_mib for r in runs if r.peak_rss_mib is not None]
        lines.append(
            f"| {label} | {format_rate(idle)} | {format_rate(max(peaks)) if peaks else '-'} |"
        )
    return "\n".join(lines)


def warnings(report: Report) -> list[str]:
    """Runs where CPU 0 was not the server's alone, and runs that failed."""
    found = []
    for run in report.runs:
        if run.error:
            found.append(f"run {run.round}, {run.target}: {run.error}")
        for row in run.rows.values():
            if not row.requests:
                found.append(
                    f"run {run.round}, {run.target} {row.scenario}: no request completed within "
                    "the run; at 32 connections a bcrypt-bound request waits about 2.5 s, so "
                    "runs shorter than 10 s understate signin and signup"
                )
            if row.cpu_other + row.cpu_steal >= SHARED_CPU_WARNING:
                found.append(
                    f"run {run.round}, {run.target} {row.scenario}: CPU 0 was "
                    f"{row.cpu_other}% someone else's and {row.cpu_steal}% stolen"
                )
    return found


def render(report: Report) -> str:
    parts = [table(report), "", memory_table(report), ""] if report.scenarios else []
    limit_in, limit_up = ceiling(report, "signin"), ceiling(report, "signup")
    if report.ceilings:
        first = report.ceilings[0]
        parts.append(
            f"bcrypt ceiling (Python bcrypt {first['bcrypt_version']}, cost 10, one thread on "
            f"CPU 0, median of {len(report.ceilings)}): "
            f"checkpw {format_rate(limit_in)}/s (signin's), "
            f"hashpw {format_rate(limit_up)}/s (signup's)."
        )
    if report.extras:
        parts += ["", report.extras, "### Settings and notes", ""]
    parts.extend(f"- {note}" for note in report.notes)
    problems = warnings(report) + report.extra_warnings
    if problems:
        parts.append("")
        parts.append("Warnings:")
        parts.extend(f"- {problem}" for problem in problems)
    return "\n".join(parts) + "\n"


def summary(report: Report) -> dict[str, Any]:
    """Everything in the table, as data: per-run rows, medians and ratios."""
    medians = {
        scenario: {
            name: median_rps(report, name, scenario)
            for name, _ in report.targets
            if _rows(report, name, scenario)
        }
        for scenario in report.scenarios
    }
    return {
        "scenarios": report.scenarios,
        "targets": [name for name, _ in report.targets],
        "labels": dict(report.targets),
        "median_rps": medians,
        "bcrypt_ceiling": report.ceilings,
        "runs": [
            {
                "target": run.target,
                "round": run.round,
                "error": run.error,
                "idle_rss_mib": run.idle_rss_mib,
                "peak_rss_mib": run.peak_rss_mib,
                "rows": {name: asdict(row) for name, row in run.rows.items()},
            }
            for run in report.runs
        ],
        "notes": report.notes,
    }
