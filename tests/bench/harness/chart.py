"""The side-by-side table as a chart: one panel per route, one bar per target, req/s.

An SVG written by hand from the numbers (no plotting library): it renders on GitHub and in
the docs, and diffs as text. Each panel has its own linear scale, since a signin (bcrypt,
~12/s) and `/auth/me` (~14,000/s) differ a thousandfold; the label at each bar's end gives
its req/s and how authkit compares with it.

    run.py chart --from results/<time>/summary.json [--out chart.svg] [--title TEXT]

The input is the table run's `summary.json` (its `median_rps`, `targets`, and `labels`
when present), or any JSON with the same keys, such as docs/images/benchmarks-main-table.json.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["main", "render_svg"]

SCENARIO_TITLES = {
    "me": "GET /auth/me",
    "signin": "POST /auth/signin (bcrypt cost 10)",
    "signup": "POST /auth/signup (bcrypt cost 10)",
    "notfound": "GET /bench-not-found (404)",
}
LABELS = {
    "authkit": "authkit",
    "authkit-quiet": "authkit, no access log",
    "hello": "Starlette hello (GET /)",
    "peer": "FastAPI-Users",
    "nest": "NestJS",
}
COLOURS = {
    "authkit": "#2563eb",
    "authkit-quiet": "#60a5fa",
    "hello": "#9ca3af",
    "peer": "#059669",
    "nest": "#dc2626",
}

WIDTH = 860
LABEL_W = 190  # the targets' names, left of the bars
BAR_H = 20
GAP = 6
PANEL_TOP = 28  # a panel's title above its first bar
PANEL_GAP = 22
VALUE_W = 230  # room right of the longest bar for its value


def format_rps(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _comparison(target: str, value: float, authkit: float | None) -> str:
    if authkit is None or target.startswith("authkit") or value <= 0:
        return ""
    if target == "hello":
        return f"authkit = {authkit / value * 100:.0f}% of it"
    ratio = authkit / value
    return f"authkit {ratio:.1f}x" if ratio >= 10 else f"authkit {ratio:.2f}x"


def render_svg(
    medians: Mapping[str, Mapping[str, float | None]],
    targets: Sequence[str],
    *,
    labels: Mapping[str, str] | None = None,
    title: str = "authkit beside its baseline and its peers: req/s, median of the runs",
    subtitle: str = "",
    refused: Mapping[tuple[str, str], int] | None = None,
) -> str:
    """The chart of `medians` ({scenario: {target: req/s}}), targets in the given order;
    `refused`: non-2xx answers by (scenario, target), shown in red after the bar (wrk counts
    them in req/s, so such a bar is not the route's throughput)."""
    names = {**LABELS, **(labels or {})}
    panels = [
        (scenario, [(t, float(v)) for t in targets if (v := row.get(t)) is not None])
        for scenario, row in medians.items()
    ]
    panels = [(s, bars) for s, bars in panels if bars]
    height = 64 if subtitle else 46
    layout = []
    for scenario, bars in panels:
        layout.append((height, scenario, bars))
        height += PANEL_TOP + len(bars) * (BAR_H + GAP) + PANEL_GAP
    height += 4
    scale_w = WIDTH - LABEL_W - VALUE_W - 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, DejaVu Sans, sans-serif" '
        'font-size="13">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="26" font-size="16" font-weight="bold" fill="#111827">'
        f"{escape(title)}</text>",
    ]
    if subtitle:
        out.append(f'<text x="12" y="46" fill="#4b5563">{escape(subtitle)}</text>')
    for top, scenario, bars in layout:
        top_value = max(v for _, v in bars) or 1.0
        authkit = next((v for t, v in bars if t == "authkit"), None)
        out.append(
            f'<text x="12" y="{top + 18}" font-weight="bold" fill="#111827">'
            f"{escape(SCENARIO_TITLES.get(scenario, scenario))}</text>"
        )
        y = top + PANEL_TOP
        for target, value in bars:
            width = max(1.0, value / top_value * scale_w)
            colour = COLOURS.get(target, "#6b7280")
            label = escape(names.get(target, target))
            text_y = y + BAR_H - 5
            out.append(
                f'<text x="{LABEL_W - 8}" y="{text_y}" text-anchor="end" fill="#374151">'
                f"{label}</text>"
            )
            out.append(
                f'<rect x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{BAR_H}" '
                f'fill="{colour}"><title>{label}: {format_rps(value)} req/s</title></rect>'
            )
            comparison = _comparison(target, value, authkit)
            if (refused or {}).get((scenario, target)):
                comparison = f"{comparison}  ".lstrip() + (
                    f"{refused[(scenario, target)]:,} non-2xx answers"  # type: ignore[index]
                )
            value_text = f"{format_rps(value)} req/s"
            out.append(
                f'<text x="{LABEL_W + width + 6:.1f}" y="{text_y}" fill="#111827">'
                f"{escape(value_text)}"
                + (
                    f'<tspan dx="10" fill="{"#b91c1c" if "non-2xx" in comparison else "#6b7280"}">'
                    f"{escape(comparison)}</tspan>"
                )
                * bool(comparison)
                + "</text>"
            )
            y += BAR_H + GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def chart_from(data: Mapping[str, Any], title: str | None = None) -> str:
    """The chart of a summary.json (or a JSON with its `median_rps` and `targets`)."""
    medians: dict[str, dict[str, float | None]] = data["median_rps"]
    targets: list[str] = list(data.get("targets") or LABELS)
    extra: dict[str, str] = {}
    if title is not None:
        extra["title"] = title
    elif data.get("title"):
        extra["title"] = str(data["title"])
    refused: dict[tuple[str, str], int] = {}
    for run in data.get("runs", []):
        for scenario, row in run.get("rows", {}).items():
            if scenario != "notfound" and row.get("non2xx"):  # a 404 is that scenario's answer
                key = (scenario, run["target"])
                refused[key] = max(refused.get(key, 0), int(row["non2xx"]))
    return render_svg(
        medians, targets, labels=data.get("labels"), subtitle=str(data.get("subtitle", "")),
        refused=refused,
        **extra,
    )  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/bench/run.py chart",
        description="Draw the side-by-side table (req/s per route and target) as an SVG.",
    )
    parser.add_argument(
        "--from", dest="source", type=Path, required=True,
        help="a summary.json of a table run, or a JSON with the same median_rps and targets",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="the SVG (default: chart.svg beside the input)")
    parser.add_argument("--title", help="the chart's title")
    args = parser.parse_args(argv)
    data = json.loads(args.source.read_text())
    out: Path = args.out or args.source.with_name("chart.svg")
    out.write_text(chart_from(data, args.title))
    print(out)
    return 0
