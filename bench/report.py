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
class Report:
    steps: list[StepFigure] = field(default_factory=list)
    calls: list[CallsFigure] = field(default_factory=list)
    lists: list[ListFigure] = field(default_factory=list)
    workers: dict[int, StepFigure] = field(default_factory=dict)
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


def _mark(met: bool, goal: str) -> str:
    return f"met ({goal})" if met else f"**missed** ({goal})"
