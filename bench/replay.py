"""Replaying one signed request with wrk, so a figure is the server's, not botocore's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

from servers import Server, signed


def wrk_script(server: Server, service: str, body: str, path: Path, region: str) -> Path:
    """A wrk Lua script replaying one SigV4-signed form POST (valid for 15 minutes)."""
    req = signed(server, service, body, region)
    lines = ['wrk.method = "POST"', f'wrk.body = "{body}"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in req.headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Run(NamedTuple):
    rps: float
    # Seconds.
    p50: float
    p99: float
    requests: int


def parse(out: str) -> Run:
    """What `wrk --latency` printed."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[m.group(2)]

    return Run(rps, pct("50"), pct("99"), done)


def wrk(url: str, script: Path, conns: int, seconds: float) -> Run:
    """wrk on CPU 1 replaying `script`; a slow peer is measured, not cut off at 2 s."""
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s",
         "--timeout", "30s", "--latency", "-s", str(script), url + "/"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {url}:\n{out}")
    return parse(out)
