"""mallee vs moto server: throughput and latency of trivial authenticated calls, one core each.

Usage: python bench/api_throughput.py [--seconds 10] [--ops sts,iam,iamw]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from servers import Server, rss_mib, signed, start_mallee_api, start_moto, stop

OPS = {
    "sts": ("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
    "iam": ("iam", "Action=ListUsers&Version=2010-05-08"),
    # A write (run in a worker thread by mallee): the same tag set again on one user.
    "iamw": (
        "iam",
        "Action=TagUser&UserName=bench&Tags.member.1.Key=team&Tags.member.1.Value=bench"
        "&Version=2010-05-08",
    ),
}


def prepare(server: Server) -> None:
    """What the writes act on: the user `bench`, made with boto3 as any client would."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=server.url,
        region_name="eucalyptus",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )
    iam.create_user(UserName="bench")


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float


def wrk_script(server: Server, service: str, body: str, path: Path) -> None:
    """A wrk Lua script replaying one SigV4-signed request (valid for 15 minutes)."""
    req = signed(server, service, body)
    lines = ['wrk.method = "POST"', f'wrk.body = "{body}"']
    for k, v in req.headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    path.write_text("\n".join(lines) + "\n")


def wrk(url: str, script: Path, conns: int, seconds: int) -> Result:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{seconds}s",
            "--latency",
            # A slow peer (moto listing 1,000 entries) is measured, not cut off at 2 s.
            "--timeout",
            "30s",
            "-s",
            str(script),
            url + "/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    return Result(rps, pct("50"), pct("99"))


def measure(server: Server, ops: list[str], seconds: int, tmp: Path) -> dict[str, object]:
    out: dict[str, object] = {"rss_idle_mib": rss_mib(server.proc.pid)}
    for op in ops:
        service, body = OPS[op]
        script = tmp / f"{server.name}-{op}.lua"
        wrk_script(server, service, body, script)
        wrk(server.url, script, 4, 2)  # warm-up
        out[op] = (wrk(server.url, script, 8, seconds), wrk(server.url, script, 1, seconds))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--ops", default="sts,iam,iamw")
    args = ap.parse_args()
    ops = args.ops.split(",")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in ("mallee", "moto"):
            server = start_mallee_api(tmp) if name == "mallee" else start_moto()
            try:
                time.sleep(1)
                prepare(server)
                results[server.name] = measure(server, ops, args.seconds, tmp)
            finally:
                stop(server)
    print(f"{'':28}{'mallee':>12}{'moto':>12}{'ratio':>10}")
    m, t = results["mallee"], results["moto"]
    print(f"{'RSS at idle (MiB)':28}{m['rss_idle_mib']:12.1f}{t['rss_idle_mib']:12.1f}")
    for op in ops:
        (mt, ml), (tt, tl) = m[op], t[op]  # type: ignore[misc]
        name = OPS[op][1].split("&")[0].split("=")[1]
        print(f"{name + ' req/s (8 conns)':28}{mt.rps:12.0f}{tt.rps:12.0f}{mt.rps / tt.rps:9.2f}x")
        print(
            f"{name + ' p50 ms (1 conn)':28}{ml.p50_ms:12.2f}{tl.p50_ms:12.2f}"
            f"{tl.p50_ms / ml.p50_ms:9.2f}x"
        )
        print(
            f"{name + ' p99 ms (1 conn)':28}{ml.p99_ms:12.2f}{tl.p99_ms:12.2f}"
            f"{tl.p99_ms / ml.p99_ms:9.2f}x"
        )


if __name__ == "__main__":
    main()
