"""The one table `make bench` prints, with each figure's ratio against its goal."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import TextIO

from bench.wrk import Load

CPU_GOAL_US = 600
CEILING_SHARE_GOAL = 0.25
CALL_P99_GOAL_MS = 100
LIST_GOAL_MS = 50
WORKERS_GOAL = 1.7
CHECK_GOAL_MS = 2
CHECK_GROWTH_GOAL = 2
LINEAR_GOAL = 1000
FILING_GOAL = 1.2


@dataclass
class StepFigure:
    name: str
    backend: str
    load: Load
    cpu_seconds: float
    database_cpu_seconds: float | None = None
    """PostgreSQL's processes meanwhile (None: SQLite, whose work is the server's own)."""

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / max(1, self.load.requests) * 1e6

    @property
    def database_cpu_us(self) -> str:
        if self.database_cpu_seconds is None:
            return "in the server" if self.backend == "sqlite" else "—"
        return f"{self.database_cpu_seconds / max(1, self.load.requests) * 1e6:,.0f}"

    def describe(self) -> str:
        return (
            f"{self.name} {self.backend}: {self.load.rate:,.0f} req/s,"
            f" p50 {self.load.p50_ms:.1f} ms,"
            f" p99 {self.load.p99_ms:.1f} ms, {self.cpu_us:,.0f} µs CPU/request,"
            f" {self.load.apologies} apologies, {self.load.bad} non-200,"
            f" {self.load.wrapped} repeated"
        )


@dataclass
class CallsFigure:
    backend: str
    calls: int
    concurrent: int
    webhooks: int
    p50_ms: float
    p99_ms: float
    apologies: int
    bad: int
    unfinished: int
    cpu_us: float
    per_step: dict[str, tuple[int, float, float]] = field(default_factory=dict)
    """step -> (count, p50 ms, p99 ms)"""


@dataclass
class ListFigure:
    backend: str
    page: str
    rows: str
    median_ms: float


@dataclass
class BlacklistFigure:
    backend: str
    checks: dict[int, tuple[float, float]]
    """rules -> (median, p90) ms of one record's check, at the fewest rules and the most"""
    linear_ms: float
    """Median of a linear scan over the most rules."""
    filing: tuple[float, float]
    """(median, p90) ms of filing a request with the most rules"""
    filing_empty: tuple[float, float]
    """The same with no rules."""


@dataclass
class Report:
    steps: list[StepFigure] = field(default_factory=list)
    calls: list[CallsFigure] = field(default_factory=list)
    lists: list[ListFigure] = field(default_factory=list)
    workers: dict[int, StepFigure] = field(default_factory=dict)
    blacklist: list[BlacklistFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _ceiling(self) -> StepFigure | None:
        return next((step for step in self.steps if step.name == "bare + validator"), None)

    def print(self, out: TextIO, *, took: float, postgres: bool) -> None:
        cores = os.cpu_count()
        out.write(
            f"\n## make bench: {platform.processor() or platform.machine()}, {cores} cores,"
            f" Python {platform.python_version()}; took {took:.0f} s\n\n"
        )
        if self.steps:
            self._write_steps(out)
        if self.calls:
            out.write(
                "\n| whole calls | database | calls (concurrent) | webhooks | p50 ms |"
                " p99 ms | CPU µs/webhook | goal | apologies | non-200 | not final |\n"
            )
            out.write("|---|---|---|---|---|---|---|---|---|---|---|\n")
            for run in self.calls:
                goal = _mark(
                    run.p99_ms < CALL_P99_GOAL_MS and not run.apologies and not run.bad,
                    f"p99 < {CALL_P99_GOAL_MS} ms, 0 apologies, 0 non-200",
                )
                out.write(
                    f"| simulated | {run.backend} | {run.calls} ({run.concurrent}) |"
                    f" {run.webhooks} | {run.p50_ms:.1f} | {run.p99_ms:.1f} | {run.cpu_us:,.0f} |"
                    f" {goal} | {run.apologies} | {run.bad} | {run.unfinished} |\n"
                )
            for run in self.calls:
                steps = ", ".join(
                    f"{name} {p50:.0f}/{p99:.0f}" for name, (_, p50, p99) in run.per_step.items()
                )
                out.write(f"\n{run.backend}, per step p50/p99 ms: {steps}\n")
        if len(self.workers) == 2:
            one, two = self.workers[1], self.workers[2]
            ratio = two.load.rate / one.load.rate
            out.write(
                f"\nWorkers on PostgreSQL (voice): 1 → {one.load.rate:,.0f} req/s, 2 →"
                f" {two.load.rate:,.0f} req/s: ×{ratio:.2f}"
                f" {_mark(ratio >= WORKERS_GOAL, f'≥ ×{WORKERS_GOAL}')}\n"
            )
        elif not postgres:
            out.write("\nWorkers: measured on PostgreSQL only (set IVR_TEST_DATABASE_URL).\n")
        if self.lists:
            out.write(
                "\n| CRM page | database | rows | median ms | goal |\n|---|---|---|---|---|\n"
            )
            for page in self.lists:
                goal = _mark(page.median_ms <= LIST_GOAL_MS, f"≤ {LIST_GOAL_MS} ms")
                out.write(
                    f"| {page.page} | {page.backend} | {page.rows} | {page.median_ms:.1f} |"
                    f" {goal} |\n"
                )
        if self.blacklist:
            self._write_blacklist(out)
        for note in self.notes:
            out.write(f"\n{note}\n")

    def _write_steps(self, out: TextIO) -> None:
        ceiling = self._ceiling()
        out.write(
            "| webhook | database | req/s | p50 ms | p99 ms | server CPU µs/req |"
            " database CPU µs/req | vs ceiling | goal | apologies | non-200 | repeated |\n"
        )
        out.write("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
        for step in self.steps:
            if step.name.startswith("voice,"):
                continue
            share = step.load.rate / ceiling.load.rate if ceiling else 0
            bare = step.name.startswith("bare")
            goal = (
                "—"
                if bare
                else _mark(
                    step.cpu_us <= CPU_GOAL_US and share >= CEILING_SHARE_GOAL,
                    f"≤ {CPU_GOAL_US} µs, ≥ {CEILING_SHARE_GOAL}",
                )
            )
            out.write(
                f"| {step.name} | {step.backend or '—'} | {step.load.rate:,.0f} |"
                f" {step.load.p50_ms:.1f} | {step.load.p99_ms:.1f} | {step.cpu_us:,.0f} |"
                f" {step.database_cpu_us} | {share:.2f} | {goal} | {step.load.apologies} |"
                f" {step.load.bad} | {step.load.wrapped} |\n"
            )

    def _write_blacklist(self, out: TextIO) -> None:
        out.write(
            "\n| blacklist | database | rules | median ms | p90 ms | ratio | goal |\n"
            "|---|---|---|---|---|---|---|\n"
        )
        for figure in self.blacklist:
            fewest, most = min(figure.checks), max(figure.checks)
            low, high = figure.checks[fewest][0], figure.checks[most][0]
            growth, linear = high / low, figure.linear_ms / high
            filing = figure.filing[0] / figure.filing_empty[0]
            fast = f"≤ {CHECK_GOAL_MS} ms"
            rows: list[tuple[str, int, tuple[float, float | None], str, str]] = [
                ("check", fewest, figure.checks[fewest], "—", _mark(low <= CHECK_GOAL_MS, fast)),
                (
                    "check",
                    most,
                    figure.checks[most],
                    f"×{growth:.2f} of {fewest:,}",
                    _mark(
                        high <= CHECK_GOAL_MS and growth < CHECK_GROWTH_GOAL,
                        f"{fast}, < ×{CHECK_GROWTH_GOAL} of {fewest:,}",
                    ),
                ),
                (
                    "linear scan",
                    most,
                    (figure.linear_ms, None),
                    f"×{linear:,.0f} of the check",
                    _mark(linear >= LINEAR_GOAL, f"≥ ×{LINEAR_GOAL:,}"),
                ),
                ("filing a request", 0, figure.filing_empty, "—", "—"),
                (
                    "filing a request",
                    most,
                    figure.filing,
                    f"×{filing:.2f} of none",
                    _mark(filing <= FILING_GOAL, f"≤ ×{FILING_GOAL}"),
                ),
            ]
            for name, rules, (median, p90), ratio, goal in rows:
                spread = "—" if p90 is None else f"{p90:,.2f}"
                out.write(
                    f"| {name} | {figure.backend} | {f'{rules:,}' if rules else 'none'} |"
                    f" {median:,.2f} | {spread} | {ratio} | {goal} |\n"
                )


def _mark(met: bool, goal: str) -> str:
    return f"met ({goal})" if met else f"**missed** ({goal})"
