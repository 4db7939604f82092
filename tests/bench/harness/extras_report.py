"""The opt-in scenarios' sections of the report: medians, the issue's targets, as data too.

Each scenario gets a small table of its wrk runs (median req/s, each run, p50, p99, errors,
how much CPU the server's processes used) and a table of issue 6's targets beside the
figures, with PASS or FAIL. The raw numbers are what matter: a 3 s run, or a busy machine,
moves them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from harness.extras import EXTRA_SCENARIOS, FLOOD_CONNECTIONS, ExtraRun, Load
from harness.report import format_ms, format_rate, median

__all__ = ["extras_render", "extras_summary", "extras_warnings"]

SHARED_CPU_WARNING = 10  # % of CPUs 0 and 1 someone else used, or stolen: flagged
TITLES = {
    "cores": "cores: signin and signup on one core, then on two",
    "flood": "flood: GET /auth/me while 4 connections flood POST /auth/signin",
    "workers": "workers: GET /auth/me, one worker vs `authkit serve --workers 2`",
    "growth": "growth: signin and /auth/me with 100 users vs many",
}
_KINDS = ("me", "hello", "signin", "signup")


@dataclass(frozen=True)
class Check:
    """One of issue 6's targets: what it asks, what was measured, and whether it holds."""

    target: str
    measured: str
    wanted: str
    verdict: str  # PASS, FAIL, or "-" when a figure is missing


def _key_order(key: str) -> tuple[int, int, str]:
    """me before signin before signup; then the setup, by its leading number if any."""
    kind, _, setup = key.partition("@")
    number = re.match(r"\d+", setup)
    index = _KINDS.index(kind) if kind in _KINDS else len(_KINDS)
    return index, int(number[0]) if number else 0, setup


class _Scenario:
    """The runs of one opt-in scenario and the medians over them."""

    def __init__(self, name: str, runs: list[ExtraRun]) -> None:
        self.name = name
        self.runs = sorted((r for r in runs if r.scenario == name), key=lambda r: r.round)
        keys = {key for run in self.runs for key in run.loads}
        self.keys = sorted(keys, key=_key_order)

    def loads(self, key: str) -> list[Load]:
        return [run.loads[key] for run in self.runs if key in run.loads]

    def median(self, key: str, figure: Callable[[Load], float]) -> float | None:
        answered = [load for load in self.loads(key) if load.requests]
        return median([figure(load) for load in answered])

    def rps(self, key: str) -> float | None:
        return median([load.rps for load in self.loads(key)])

    def p50(self, key: str) -> float | None:
        return self.median(key, lambda load: load.p50_ms)

    def p99(self, key: str) -> float | None:
        return self.median(key, lambda load: load.p99_ms)

    def facts(self, name: str) -> list[Any]:
        return [run.facts[name] for run in self.runs if name in run.facts]

    def table(self) -> str:
        lines = [
            "| measurement | req/s (median) | each run | p50 | p99 | non-2xx | "
            "server CPU used (cores) | others' CPU % / steal % (worst run) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key in self.keys:
            loads = self.loads(key)
            cells = []
            for run in self.runs:
                load = run.loads.get(key)
                cells.append(format_rate(load.rps) if load else "failed")
            worst = max(loads, key=lambda load: load.cpu_foreign + load.cpu_steal)
            cores = median([load.server_cores for load in loads])
            split = ""
            if len(loads[0].process_cores) > 1:  # workers: each process's share, first run
                split = " (" + " + ".join(f"{c:.2f}" for c in loads[0].process_cores) + ")"
            errors = median([load.non2xx for load in loads])
            sockets = sorted({ld.socket_errors for ld in loads if ld.socket_errors != "none"})
            lines.append(
                f"| {loads[0].label} | **{format_rate(self.rps(key))}** | {' / '.join(cells)} | "
                f"{format_ms(self.p50(key))} | {format_ms(self.p99(key))} | "
                f"{'-' if errors is None else f'{errors:.0f}'}"
                f"{'; socket errors: ' + '; '.join(sockets) if sockets else ''} | "
                f"{'-' if cores is None else f'{cores:.2f}'}{split} | "
                f"{worst.cpu_foreign}/{worst.cpu_steal}{'' if worst.settled else ' (busy)'} |"
            )
        return "\n".join(lines)


def _ratio_check(target: str, top: float | None, bottom: float | None, minimum: float) -> Check:
    if top is None or not bottom:
        return Check(target, "-", f">= {minimum:.2f}x", "-")
    ratio = top / bottom
    return Check(target, f"{ratio:.2f}x", f">= {minimum:.2f}x", _verdict(ratio >= minimum))


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _share_check(target: str, rps: float | None, ceiling: float | None) -> Check:
    if rps is None or not ceiling:
        return Check(target, "-", ">= 95%", "-")
    share = rps / ceiling * 100
    return Check(target, f"{share:.0f}% ({format_rate(rps)} of {format_rate(ceiling)}/s)", ">= 95%",
                 _verdict(share >= 95))  # fmt: skip


# --- each scenario's targets ---------------------------------------------------------------


def _cores(s: _Scenario) -> tuple[list[Check], list[str]]:
    rates = s.facts("bcrypt")

    def ceiling_rate(cpu: str, op: str) -> float | None:
        return median([r[cpu][op] for r in rates if cpu in r])

    checks = []
    for kind, op in (("signin", "checkpw_per_s"), ("signup", "hashpw_per_s")):
        one, two = s.rps(f"{kind}@1core"), s.rps(f"{kind}@2cores")
        checks.append(_ratio_check(f"{kind} req/s, two cores ÷ one core", two, one, 1.8))
        cpu0, cpu1 = ceiling_rate("cpu0", op), ceiling_rate("cpu1", op)
        both = cpu0 + cpu1 if cpu0 is not None and cpu1 is not None else None
        checks.append(_share_check(f"{kind}, one core: share of CPU 0's {op[:-6]} rate", one, cpu0))
        checks.append(_share_check(f"{kind}, two cores: share of CPU 0 + CPU 1's", two, both))
    notes = [
        "Two cores: authkit started with `taskset -c 0,1`; wrk stays on CPU 1, so it (and the "
        "database) share a core with the server: the two-core figure includes that cost.",
        "At 32 connections bcrypt-bound requests complete in batches (p50 close to p99); short "
        "runs move req/s in steps of 32 ÷ duration. Read p50 beside req/s.",
    ]
    if rates:
        per_cpu = "; ".join(
            f"CPU {cpu} checkpw {format_rate(ceiling_rate(f'cpu{cpu}', 'checkpw_per_s'))}/s, "
            f"hashpw {format_rate(ceiling_rate(f'cpu{cpu}', 'hashpw_per_s'))}/s"
            for cpu in (0, 1)
        )
        notes.append(
            "bcrypt ceiling per core (harness/bcrypt_rate.py, cost 10, one thread on each core, "
            f"both at once, median of {len(rates)}): {per_cpu}."
        )
    return checks, notes


def _flood(s: _Scenario) -> tuple[list[Check], list[str]]:
    p99 = s.p99("me@flood")
    checks = [
        Check(
            "/auth/me p99 during the signin flood",
            format_ms(p99),
            "< 20 ms",
            "-" if p99 is None else _verdict(p99 < 20),
        )
    ]
    alone, during = s.rps("me@alone"), s.rps("me@flood")
    notes = [
        "authkit on CPUs 0,1 (`taskset -c 0,1`); both wrk processes (the /auth/me one and the "
        f"flood, -t1 -c{FLOOD_CONNECTIONS} signin.lua) and the database run on CPU 1. The "
        "flood starts 1 s before the /auth/me run and ends 1 s after it.",
    ]
    if alone and during is not None:
        notes.append(
            f"/auth/me during the flood: {during / alone * 100:.0f}% of its req/s without it "
            f"(p99 {format_ms(s.p99('me@alone'))} without the flood)."
        )
    floods = s.loads("signin@flood")
    if floods:
        counts = " / ".join(str(load.requests) for load in floods)
        notes.append(
            f"Signins completed by the flood (each run, over its {floods[0].seconds:.0f} s): "
            f"{counts}; median {format_rate(s.rps('signin@flood'))}/s."
        )
    return checks, notes


def _workers(s: _Scenario) -> tuple[list[Check], list[str]]:
    one, two = s.rps("me@1worker"), s.rps("me@2workers")
    hello_one, hello_two = s.rps("hello@1worker"), s.rps("hello@2workers")
    checks = [_ratio_check("/auth/me req/s, two workers ÷ one", two, one, 1.7)]
    notes = [
        "One worker: `taskset -c 0 python -m authkit serve --workers 1`; two workers: the "
        "same with `--workers 2` on `taskset -c 0,1`, MONGO_URI = the harness's SecantusDB. "
        "wrk (-t1 -c32) stays on CPU 1: with two workers it shares the two cores with them, "
        "so the ratio includes wrk's and the database's cost. The CPU column lists each "
        "process's share (the supervisor's is near 0): an uneven split means the kernel gave "
        "one worker more of wrk's 32 connections.",
    ]
    if one and two and hello_one and hello_two:
        ours, hellos = two / one, hello_two / hello_one
        notes.append(
            f"The Starlette hello, the same way (`uvicorn --workers 1` on CPU 0, then "
            f"`--workers 2` on CPUs 0,1, `GET /`): {hellos:.2f}x ({format_rate(hello_two)} ÷ "
            f"{format_rate(hello_one)} req/s): what a second worker adds on this machine to "
            f"a server that does almost nothing per request, wrk sharing its cores. "
            f"authkit's {ours:.2f}x is {ours / hellos * 100:.0f}% of the hello's gain."
        )
        rounds = [f"{_round_ratio(run, 'me')} / {_round_ratio(run, 'hello')}" for run in s.runs]
        notes.append(
            "Each round's two workers ÷ one, authkit / hello (a round's four servers run "
            f"back to back): {', '.join(rounds)}."
        )
    return checks, notes


def _round_ratio(run: ExtraRun, kind: str) -> str:
    one, two = run.loads.get(f"{kind}@1worker"), run.loads.get(f"{kind}@2workers")
    return f"{two.rps / one.rps:.2f}x" if one and two and one.rps else "-"


def _growth(s: _Scenario) -> tuple[list[Check], list[str]]:
    sizes = sorted({int(size) for run in s.runs for size in run.facts.get("sizes", {})})
    checks: list[Check] = []
    notes: list[str] = []
    if len(sizes) == 2:
        small, large = sizes
        p50_small, p50_large = s.p50(f"signin@{small}"), s.p50(f"signin@{large}")
        if p50_small and p50_large is not None:
            change = (p50_large / p50_small - 1) * 100
            checks.append(Check(
                f"signin p50, {large:,} users vs {small:,}",
                f"{change:+.1f}% ({format_ms(p50_large)} vs {format_ms(p50_small)})",
                "<= +10%", _verdict(change <= 10),
            ))  # fmt: skip
        else:
            checks.append(Check(f"signin p50, {large:,} users vs {small:,}", "-", "<= +10%", "-"))
        me_small, me_large = s.rps(f"me@{small}"), s.rps(f"me@{large}")
        if me_small and me_large is not None:
            change = (me_large / me_small - 1) * 100
            checks.append(Check(
                f"/auth/me req/s, {large:,} users vs {small:,}", f"{change:+.1f}%",
                "independent (read: within ±10%)", _verdict(abs(change) <= 10),
            ))  # fmt: skip
        in_small, in_large = s.rps(f"signin@{small}"), s.rps(f"signin@{large}")
        if in_small and in_large is not None:
            change = (in_large / in_small - 1) * 100
            notes.append(f"signin req/s, {large:,} users vs {small:,}: {change:+.1f}%.")
    for size in sizes:
        facts = [run.facts["sizes"][str(size)] for run in s.runs if str(size) in
                 run.facts.get("sizes", {})]  # fmt: skip
        plans = [f["query_plan"] for f in facts if "query_plan" in f]
        inserted = [f["insert_seconds"] for f in facts if "insert_seconds" in f]
        counted = [f["users"] for f in facts if "users" in f]
        lookups = median([f["lookup_ms"] for f in facts if "lookup_ms" in f])
        text = f"{size:,} users ({f'{counted[0]:,}' if counted else '?'} counted"
        text += f", inserted in {max(inserted):.1f} s at most" if inserted else ""
        text += f"; one find_one by username from the harness: {lookups:.2f} ms" if lookups else ""
        text += ")"
        if not plans:
            notes.append(f"{text}: no query plan read.")
        elif not plans[0]["supported"]:
            notes.append(f"{text}: SecantusDB does not explain the lookup: {plans[0]['detail']}")
        else:
            plan = plans[0]
            notes.append(
                f"{text}: the users lookup `find({{username}})` gets the winning plan "
                f"{plan['plan']}; keys examined {plan['keys_examined']}, documents examined "
                f"{plan['docs_examined']} (explain)."
            )
            uses_index = all("IXSCAN" in p["stages"] and "COLLSCAN" not in p["stages"]
                             for p in plans if p["supported"])  # fmt: skip
            checks.append(Check(
                f"users lookup at {size:,} users uses the unique index", plan["plan"],
                "IXSCAN, no COLLSCAN", _verdict(uses_index),
            ))  # fmt: skip
    notes.append(
        "authkit on CPU 0, as in the main table. The users are inserted before authkit starts, "
        "straight into `users` (insert_many, one precomputed bcrypt hash, then the unique "
        "username index); the bench user makes the count."
    )
    return checks, notes


TARGETS: dict[str, Callable[[_Scenario], tuple[list[Check], list[str]]]] = {
    "cores": _cores,
    "flood": _flood,
    "workers": _workers,
    "growth": _growth,
}


def _checks_table(checks: list[Check]) -> str:
    lines = ["| issue 6 target | measured | wanted | verdict |", "|---|---|---|---|"]
    lines += [f"| {c.target} | {c.measured} | {c.wanted} | **{c.verdict}** |" for c in checks]
    return "\n".join(lines)


def extras_render(runs: list[ExtraRun], scenarios: list[str]) -> str:
    """The markdown sections of the opt-in scenarios, in EXTRA_SCENARIOS order."""
    parts = []
    for name in (n for n in EXTRA_SCENARIOS if n in scenarios):
        scenario = _Scenario(name, runs)
        parts.append(f"### {TITLES[name]}")
        parts.append("")
        if not scenario.keys:
            parts.append("Nothing measured (see the warnings).")
            parts.append("")
            continue
        checks, notes = TARGETS[name](scenario)
        parts += [scenario.table(), "", _checks_table(checks), ""]
        parts += [f"- {note}" for note in notes]
        parts.append("")
    return "\n".join(parts)


def extras_warnings(runs: list[ExtraRun]) -> list[str]:
    found = []
    for run in runs:
        if run.error:
            found.append(f"run {run.round}, {run.scenario}: {run.error}")
        for load in run.loads.values():
            if not load.requests:
                found.append(f"run {run.round}, {run.scenario}: {load.label}: no request completed")
            if not load.settled:
                found.append(
                    f"run {run.round}, {run.scenario}: {load.label}: measured although CPUs "
                    f"{load.cpus} were still busy after a minute's wait"
                )
            if load.cpu_foreign + load.cpu_steal >= SHARED_CPU_WARNING:
                found.append(
                    f"run {run.round}, {run.scenario}: {load.label}: {load.cpu_foreign}% of CPUs "
                    f"0 and 1 was someone else's and {load.cpu_steal}% of CPUs {load.cpus} stolen"
                )
    return found


def extras_summary(runs: list[ExtraRun], scenarios: list[str]) -> dict[str, Any]:
    """Every opt-in scenario's runs, medians and targets, as data."""
    data: dict[str, Any] = {}
    for name in (n for n in EXTRA_SCENARIOS if n in scenarios):
        scenario = _Scenario(name, runs)
        checks = TARGETS[name](scenario)[0] if scenario.keys else []
        data[name] = {
            "medians": {
                key: {
                    "rps": scenario.rps(key),
                    "p50_ms": scenario.p50(key),
                    "p99_ms": scenario.p99(key),
                }
                for key in scenario.keys
            },
            "targets": [asdict(check) for check in checks],
            "runs": [
                {
                    "round": run.round,
                    "error": run.error,
                    "loads": {key: asdict(load) for key, load in run.loads.items()},
                    "facts": run.facts,
                }
                for run in scenario.runs
            ],
        }
    return data
