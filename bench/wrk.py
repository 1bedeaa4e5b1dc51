"""Load with wrk (Debian's package), every request signed like Twilio's, each body once.

The requests are signed beforehand and written to a file; a Lua script hands each wrk
thread its own slice in turn, so a fresh CallSid reaches the server with every request.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

SCRIPT = r"""
local file, threads = nil, {}
local requests, count, next_index = {}, 0, 0
-- Globals: the main state reads them from each thread in done().
id, apologies, bad, wrapped = 0, 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads - 1)
end

function init(args)
  file, nthreads = args[1], tonumber(args[2])
  for line in io.lines(file) do
    local path, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(requests, {path, signature, body})
  end
  count = #requests
  next_index = id
end

function request()
  if next_index >= count then wrapped = wrapped + 1 end
  local item = requests[next_index % count + 1]
  next_index = next_index + nthreads
  return wrk.format("POST", item[1], {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = item[2],
  }, item[3])
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
  if body:find("something went wrong", 1, true) or body:find("/error.wav", 1, true) then
    apologies = apologies + 1
  end
end

function done(summary, latency, requests)
  local total_apologies, total_bad, total_wrapped = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_apologies = total_apologies + thread:get("apologies")
    total_bad = total_bad + thread:get("bad")
    total_wrapped = total_wrapped + thread:get("wrapped")
  end
  io.write(string.format(
    "BENCH requests=%d apologies=%d bad=%d p50=%d p99=%d wrapped=%d duration=%d\n",
    summary.requests, total_apologies, total_bad,
    latency:percentile(50), latency:percentile(99), total_wrapped, summary.duration))
end
"""
LINE = re.compile(
    r"BENCH requests=(\d+) apologies=(\d+) bad=(\d+) p50=(\d+) p99=(\d+)"
    r" wrapped=(\d+) duration=(\d+)"
)


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    apologies: int
    bad: int
    wrapped: int = 0
    """Requests sent after the file ran out, again from its start: no longer fresh."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is missing: apt-get install -y wrk (make bench installs it)")
    return found


def write_requests(
    path: Path, *, public_base: str, token: str, steps: Sequence[tuple[str, dict[str, str]]]
) -> Path:
    """One signed POST per (path, params), in order, as the Lua script reads them."""
    validator = RequestValidator(token)
    with path.open("w") as out:
        for step_path, params in steps:
            signature = validator.compute_signature(public_base + step_path, params)
            out.write(f"{step_path}\t{signature}\t{urlencode(params)}\n")
    return path


def run(
    url: str, requests_file: Path, *, seconds: float, connections: int = 50, threads: int = 2
) -> Load:
    script = requests_file.with_suffix(".lua")
    script.write_text(SCRIPT)
    completed = subprocess.run(
        [
            wrk_binary(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "20s",
            "-s",
            str(script),
            url,
            "--",
            str(requests_file),
            str(threads),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed: {completed.stderr or completed.stdout}")
    found = LINE.search(completed.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no result: {completed.stdout}\n{completed.stderr}")
    requests, apologies, bad, p50, p99, wrapped, duration = (int(v) for v in found.groups())
    return Load(requests, duration / 1e6, p50 / 1000, p99 / 1000, apologies, bad, wrapped)
