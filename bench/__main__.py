"""`make bench`: every figure of the speed goals from one run, with its ratio.

Starts what it measures itself, on free ports, in a temporary folder: the bare aiohttp
ceiling (with and without the signature check), the service on SQLite and (when
`IVR_TEST_DATABASE_URL` names a PostgreSQL server) on PostgreSQL, one worker and two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import blacklist, calls, lists, steps
from bench.report import Report

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
PARTS = ["webhooks", "calls", "workers", "lists", "blacklist"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="each wrk run (default 5)")
    parser.add_argument("--calls", type=int, default=200, help="concurrent whole calls")
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="measure only these parts (repeatable; default: all)",
    )
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    started = time.monotonic()
    report = Report()
    postgres = os.environ.get("IVR_TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as folder:
        home = Path(folder)
        if "webhooks" in parts:
            steps.ceilings(report, home, seconds=args.seconds, token=AUTH_TOKEN)
        backends = ["sqlite"] + (["postgresql"] if postgres else [])
        for backend in backends if parts & {"webhooks", "calls"} else []:
            with steps.Service(home, backend, token=AUTH_TOKEN, postgres=postgres) as service:
                if "webhooks" in parts:
                    steps.webhook_steps(report, service, seconds=args.seconds)
                if "calls" in parts:
                    asyncio.run(calls.whole_calls(report, service, concurrent=args.calls))
        if postgres and "workers" in parts:
            steps.workers(report, home, token=AUTH_TOKEN, postgres=postgres, seconds=args.seconds)
        if "lists" in parts:
            for backend in backends:
                lists.long_lists(report, home, backend, postgres=postgres)
        if "blacklist" in parts:
            blacklist.at_scale(report, home, backends, postgres=postgres)
    report.print(sys.stdout, took=time.monotonic() - started, postgres=bool(postgres))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
