"""CloudFormation's ValidateTemplate of a 500-resource template: mallee (`mallee api` alone,
fresh database) against moto server.

    .venv/bin/python bench/cloudformation_api.py [--seconds 5]

Both servers on CPU 0, the load generator on CPU 1. The template (JSON, under the 51,200-byte
TemplateBody limit: 500 security groups with a parameter, a condition and Refs between some)
goes in one signed ValidateTemplate (the query protocol, as euca2ools sends it), replayed by wrk
over one keep-alive connection, so the figures are the servers', not botocore's. Target: under
200 ms server-side.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import urllib.parse
from pathlib import Path

import replay
from servers import Server, start_mallee_api, start_moto, stop

COUNT = 499  # and one more, made only for prod


def template() -> str:
    resources: dict[str, object] = {}
    for n in range(COUNT):
        props: dict[str, object] = {"GroupDescription": "g"}
        if n % 10 == 1:
            props["Tags"] = [{"Key": "p", "Value": {"Ref": f"G{n - 1}"}}]
        resources[f"G{n}"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": props}
    resources["Extra"] = {
        "Type": "AWS::EC2::SecurityGroup",
        "Condition": "Prod",
        "Properties": {"GroupDescription": {"Ref": "Env"}},
    }
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Env": {"Type": "String", "AllowedValues": ["dev", "prod"]}},
        "Conditions": {"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": resources,
    }
    text = json.dumps(body, separators=(",", ":"))
    assert len(text) <= 51_200, len(text)
    return text


def region_of(server: Server) -> str:
    return "eucalyptus" if server.name == "mallee" else "us-east-1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    # moto takes ~12 s a call here: a window that sees a few of them end.
    parser.add_argument("--peer-seconds", type=float, default=40.0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    body = urllib.parse.urlencode(
        {"Action": "ValidateTemplate", "Version": "2010-05-15", "TemplateBody": template()},
        quote_via=urllib.parse.quote,
    )
    results: dict[str, replay.Run] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in ("mallee", "moto"):
            server = start_mallee_api(tmp) if name == "mallee" else start_moto()
            try:
                script = replay.wrk_script(
                    server, "cloudformation", body, tmp / f"{name}.lua", region_of(server)
                )
                seconds = args.seconds if name == "mallee" else args.peer_seconds
                if name == "mallee":
                    replay.wrk(server.url, script, 1, 1)  # warm-up
                results[name] = replay.wrk(server.url, script, 1, seconds)
            finally:
                stop(server)
    m, o = results["mallee"], results["moto"]
    print(f"{'':52}{'mallee':>10}{'moto':>10}{'ratio':>8}")
    print(f"{f'ValidateTemplate ({COUNT + 1} resources), calls/s':52}"
          f"{m.rps:10.1f}{o.rps:10.1f}{m.rps / o.rps:7.1f}x")  # fmt: skip
    print(f"{'  median latency, ms (target 200)':52}{m.p50 * 1e3:10.1f}{o.p50 * 1e3:10.1f}")


if __name__ == "__main__":
    main()
