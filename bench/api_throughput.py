"""mallee vs moto server: throughput and latency of trivial authenticated calls, one core each.

Usage: python bench/api_throughput.py [--seconds 10] [--ops sts,iam,iamw]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import replay
from servers import Server, rss_mib, start_mallee_api, start_moto, stop

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


def measure(server: Server, ops: list[str], seconds: int, tmp: Path) -> dict[str, object]:
    out: dict[str, object] = {"rss_idle_mib": rss_mib(server.proc.pid)}
    for op in ops:
        service, body = OPS[op]
        script = tmp / f"{server.name}-{op}.lua"
        replay.wrk_script(server, service, body, script, "eucalyptus")
        replay.wrk(server.url, script, 4, 2)  # warm-up
        out[op] = (
            replay.wrk(server.url, script, 8, seconds),
            replay.wrk(server.url, script, 1, seconds),
        )
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
        for label, m_s, t_s in (("p50", ml.p50, tl.p50), ("p99", ml.p99, tl.p99)):
            print(
                f"{name + f' {label} ms (1 conn)':28}{m_s * 1e3:12.2f}{t_s * 1e3:12.2f}"
                f"{t_s / m_s:9.2f}x"
            )


if __name__ == "__main__":
    main()
