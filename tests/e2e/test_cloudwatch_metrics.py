"""CloudWatch metrics through real clients: boto3 (CBOR, as it sends today), the same client
forced to awsJson1_0 and to the query protocol (the AWS CLI's and euca2ools' style)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

PROTOCOLS = ("smithy-rpc-v2-cbor", "json", "query")


def _model_dir(tmp: Path, protocol: str) -> Path:
    """botocore's cloudwatch model with only `protocol` offered, so the client speaks it."""
    source = Path(botocore.__file__).parent / "data" / "cloudwatch" / "2010-08-01"
    model = json.loads(gzip.decompress((source / "service-2.json.gz").read_bytes()))
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    root = tmp / protocol
    target = root / "cloudwatch" / "2010-08-01"
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return root


def client(cloud: Any, tmp: Path, protocol: str, keys: tuple[str, str] | None = None) -> Any:
    session = boto3.session.Session()
    if protocol != "smithy-rpc-v2-cbor":
        session._session.get_component("data_loader").search_paths.insert(
            0, str(_model_dir(tmp, protocol))
        )
    access, secret = keys or (cloud.admin.access_key, cloud.admin.secret_key)
    return session.client(
        "cloudwatch",
        endpoint_url=cloud.endpoint,
        region_name=REGION,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def clients(cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cw-models")
    return {p: client(cloud, tmp, p) for p in PROTOCOLS}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_and_statistics_in_every_protocol(clients: dict[str, Any], protocol: str) -> None:
    cw = clients[protocol]
    ns = f"Test/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "Host", "Value": "h1"}, {"Name": "App", "Value": "web"}]
    base = minute(now()) - dt.timedelta(minutes=10)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": base, "Value": 10,
             "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims[::-1],
             "Timestamp": base + dt.timedelta(seconds=20), "Values": [20, 30],
             "Counts": [1, 2], "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims,
             "Timestamp": base + dt.timedelta(minutes=1),
             "StatisticValues": {"SampleCount": 4, "Sum": 100, "Minimum": 5, "Maximum": 50},
             "Unit": "Milliseconds"},
            {"MetricName": "Fast", "Timestamp": base + dt.timedelta(seconds=5), "Value": 1,
             "StorageResolution": 1},
            {"MetricName": "Fast", "Timestamp": base + dt.timedelta(seconds=15), "Value": 3,
             "StorageResolution": 1},
        ],
    )  # fmt: skip
    out = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Latency",
        Dimensions=dims,
        StartTime=base,
        EndTime=base + dt.timedelta(minutes=2),
        Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
        Unit="Milliseconds",
    )
    points = sorted(out["Datapoints"], key=lambda p: p["Timestamp"])
    assert out["Label"] == "Latency"
    assert [p["Timestamp"] for p in points] == [base, base + dt.timedelta(minutes=1)]
    first, second = points
    assert (first["SampleCount"], first["Sum"], first["Minimum"], first["Maximum"]) == (
        4, 90, 10, 30,
    )  # fmt: skip
    assert first["Average"] == 22.5 and first["Unit"] == "Milliseconds"
    assert (second["SampleCount"], second["Average"], second["Maximum"]) == (4, 25, 50)
    # Another unit asked: nothing.
    other = cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=base,
        EndTime=base + dt.timedelta(minutes=2), Period=60, Statistics=["Sum"], Unit="Seconds",
    )  # fmt: skip
    assert other["Datapoints"] == []
    # Percentiles from the raw values; the statistic set of several values has none.
    ext = cw.get_metric_statistics(
        Namespace=ns, MetricName="Latency", Dimensions=dims, StartTime=base,
        EndTime=base + dt.timedelta(minutes=2), Period=60, ExtendedStatistics=["p50", "p99.9"],
    )  # fmt: skip
    by_time = {p["Timestamp"]: p.get("ExtendedStatistics", {}) for p in ext["Datapoints"]}
    assert by_time[base]["p50"] == pytest.approx(20, rel=0.01)
    assert by_time[base]["p99.9"] == 30
    assert by_time[base + dt.timedelta(minutes=1)] == {}
    # High-resolution data by the 10 seconds.
    fast = cw.get_metric_statistics(
        Namespace=ns, MetricName="Fast", StartTime=base, EndTime=base + dt.timedelta(seconds=30),
        Period=10, Statistics=["Sum"],
    )  # fmt: skip
    assert sorted((p["Timestamp"], p["Sum"]) for p in fast["Datapoints"]) == [
        (base, 1), (base + dt.timedelta(seconds=10), 3),
    ]  # fmt: skip


BAD_DATA: list[tuple[dict[str, Any], str, str]] = [
    ({"MetricName": "m", "Value": 1, "Dimensions": [{"Name": f"d{i}", "Value": "v"}
      for i in range(31)]}, "", "Dimensions"),
    ({"MetricName": "m", "Value": math.nan}, "InvalidParameterValue", "Value"),
    ({"MetricName": "m", "Value": math.inf}, "InvalidParameterValue", "Value"),
    ({"MetricName": "m", "Value": 1, "Timestamp": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)},
     "InvalidParameterValue", "Timestamp"),
    ({"MetricName": "m", "Value": 1, "Timestamp": now() + dt.timedelta(hours=3)},
     "InvalidParameterValue", "Timestamp"),
    ({"MetricName": "m", "Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1,
      "Minimum": 1, "Maximum": 1}}, "InvalidParameterCombination", "mutually exclusive"),
    ({"MetricName": "m", "Values": [1, 2], "Counts": [1]}, "InvalidParameterValue", "Counts"),
    ({"MetricName": "m"}, "MissingParameter", "must be specified"),
    ({"MetricName": "m", "Value": 1, "StorageResolution": 30}, "InvalidParameterValue",
     "StorageResolution"),
    ({"MetricName": "m", "StatisticValues": {"SampleCount": 2, "Sum": 1, "Minimum": 3,
      "Maximum": 1}}, "InvalidParameterValue", "Maximum"),
    ({"MetricName": "m", "Values": list(range(151))}, "InvalidParameterValue", "Values"),
]  # fmt: skip


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
@pytest.mark.parametrize(("bad", "code", "words"), BAD_DATA)
def test_bad_datapoints_store_nothing(
    clients: dict[str, Any], protocol: str, bad: dict[str, Any], code: str, words: str
) -> None:
    cw = clients[protocol]
    ns = f"Bad/{uuid.uuid4().hex[:8]}"
    good = {"MetricName": "good", "Value": 1.0}
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace=ns, MetricData=[good, bad])
    got, status, message = error(exc)
    assert status == 400 and words.lower() in message.lower()
    if code:
        assert got == code
    else:  # the model's own limit (30 dimensions): the protocol's validation error
        assert got in ("ValidationError", "ValidationException")
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []


def test_bad_requests_are_refused_as_aws_does(clients: dict[str, Any]) -> None:
    cw = clients["smithy-rpc-v2-cbor"]
    end = now()
    common = {"Namespace": "Test/x", "MetricName": "m", "EndTime": end}

    def stats(**kw: Any) -> tuple[str, int, str]:
        with pytest.raises(ClientError) as exc:
            cw.get_metric_statistics(**{**common, **kw})
        return error(exc)

    day = end - dt.timedelta(days=2)
    assert stats(StartTime=day, Period=90, Statistics=["Sum"])[0] == "InvalidParameterValue"
    code, _, message = stats(StartTime=day, Period=60, Statistics=["Sum"])
    assert code == "InvalidParameterCombination" and "1,440" in message
    # Statistics is an enum of the model: the protocol layer's own validation refuses it.
    assert stats(StartTime=day, Period=3600, Statistics=["Median"])[0] in (
        "ValidationError",
        "ValidationException",
    )
    assert stats(StartTime=day, Period=3600, ExtendedStatistics=["p101"])[0] == (
        "InvalidParameterValue"
    )
    assert stats(StartTime=day, Period=3600)[0] == "MissingParameter"
    assert stats(StartTime=end, Period=3600, Statistics=["Sum"])[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1}])
    assert error(exc)[:2] == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="Test/x", MetricData=[{"MetricName": "m", "Value": 1}] * 1001)
    assert error(exc)[:2] == ("InvalidParameterValue", 400)


def _series(cw: Any, queries: list[dict[str, Any]], start: dt.datetime, **kw: Any) -> Any:
    return cw.get_metric_data(
        MetricDataQueries=queries, StartTime=start, EndTime=start + dt.timedelta(minutes=6), **kw
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metric_data_with_math_and_paging(clients: dict[str, Any], protocol: str) -> None:
    cw = clients[protocol]
    ns = f"Math/{uuid.uuid4().hex[:8]}"
    start = minute(now()) - dt.timedelta(minutes=10)
    # a: 1..5 in minutes 0..4; b: 10 in minutes 0, 1 and 3 (2 and 4 missing).
    data = [
        {"MetricName": "a", "Timestamp": start + dt.timedelta(minutes=i), "Value": i + 1}
        for i in range(5)
    ]
    data += [{"MetricName": "b", "Timestamp": start + dt.timedelta(minutes=i), "Value": 10}
             for i in (0, 1, 3)]  # fmt: skip
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def stat(name: str, s: str = "Sum") -> dict[str, Any]:
        return {"Metric": {"Namespace": ns, "MetricName": name}, "Period": 60, "Stat": s}

    queries = [
        {"Id": "a", "MetricStat": stat("a"), "ReturnData": False},
        {"Id": "b", "MetricStat": stat("b"), "Label": "bee"},
        {"Id": "plus", "Expression": "a + b * 2"},
        {"Id": "share", "Expression": "100 * a / SUM(a)"},
        {"Id": "total", "Expression": "SUM([a, b])"},
        {"Id": "rate", "Expression": "RATE(a)"},
        {"Id": "filled", "Expression": "FILL(b, 0)"},
        {"Id": "repeat", "Expression": "FILL(b, REPEAT)"},
        {"Id": "big", "Expression": "IF(a > 2 AND a != 4, a, 0)"},
        {"Id": "hi", "Expression": "MAX(METRICS())"},
        {"Id": "later", "Expression": "plus - 1"},
    ]
    out = _series(cw, queries, start, ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert "a" not in results and "NextToken" not in out
    assert results["b"]["Label"] == "bee" and results["b"]["StatusCode"] == "Complete"

    def values(qid: str) -> list[float]:
        return results[qid]["Values"]

    assert values("plus") == [21, 22, 24]
    assert values("later") == [20, 21, 23]
    assert values("share") == pytest.approx([100 * v / 15 for v in (1, 2, 3, 4, 5)])
    assert values("total") == [11, 12, 3, 14, 5]
    assert values("rate") == pytest.approx([1 / 60] * 4)
    assert values("filled") == [10, 10, 0, 10, 0, 0]
    assert values("repeat") == [10, 10, 10, 10, 10, 10]
    assert values("big") == [0, 0, 3, 0, 5]
    assert values("hi") == [10, 10, 3, 10, 5]
    first = results["plus"]["Timestamps"][0]
    assert first == start
    # Newest first by default; paging by MaxDatapoints walks the results in order.
    newest = _series(cw, queries[:3], start)
    assert newest["MetricDataResults"][1]["Values"] == [24, 22, 21]
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = _series(cw, queries[:3], start, MaxDatapoints=2, **kw)
        pages.append([(r["Id"], r["Values"], r["StatusCode"]) for r in page["MetricDataResults"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [
        [("b", [10, 10], "PartialData"), ("plus", [], "PartialData")],
        [("b", [10], "Complete"), ("plus", [24], "PartialData")],
        [("plus", [22, 21], "Complete")],
    ]


def test_metric_data_refuses_bad_queries(clients: dict[str, Any]) -> None:
    cw = clients["smithy-rpc-v2-cbor"]
    start = now() - dt.timedelta(hours=1)
    stat = {"Metric": {"Namespace": "N", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}
    bad = [
        [{"Id": "a", "MetricStat": stat}, {"Id": "a", "Expression": "1"}],
        [{"Id": "Upper", "MetricStat": stat}],
        [{"Id": "e", "Expression": "a +", "Period": 60}, {"Id": "a", "MetricStat": stat}],
        [{"Id": "e", "Expression": "f + 1"}, {"Id": "f", "Expression": "e * 2"}],
        [{"Id": "e", "Expression": "NOPE(1)"}],
        [{"Id": "e", "MetricStat": stat, "Expression": "1"}],
        [{"Id": "e", "MetricStat": {**stat, "Stat": "Median"}}],
    ]
    for queries in bad:
        with pytest.raises(ClientError) as exc:
            _series(cw, queries, start)
        assert error(exc)[:2] == ("ValidationError", 400), queries


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_list_metrics_filters_and_pages(clients: dict[str, Any], protocol: str) -> None:
    cw = clients[protocol]
    ns = f"List/{uuid.uuid4().hex[:8]}"
    data = [
        {"MetricName": f"m{i % 3}", "Dimensions": [{"Name": "Node", "Value": f"n{i}"}],
         "Value": 1.0}
        for i in range(510)
    ]  # fmt: skip
    data.append({"MetricName": "m0", "Value": 2.0})
    cw.put_metric_data(Namespace=ns, MetricData=data)
    first = cw.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    second = cw.list_metrics(Namespace=ns, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 11 and "NextToken" not in second
    every = first["Metrics"] + second["Metrics"]
    assert len({json.dumps(m, sort_keys=True) for m in every}) == 511
    bare = cw.list_metrics(Namespace=ns, MetricName="m0", Dimensions=[])["Metrics"]
    assert len(bare) == 171
    one = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Node", "Value": "n7"}])
    assert one["Metrics"] == [
        {"Namespace": ns, "MetricName": "m1", "Dimensions": [{"Name": "Node", "Value": "n7"}]}
    ]
    named = cw.list_metrics(Namespace=ns, MetricName="m2", Dimensions=[{"Name": "Node"}])
    assert len(named["Metrics"]) == 170
    assert len(cw.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"]) == 500
    with pytest.raises(ClientError) as exc:
        cw.list_metrics(NextToken="garbage")
    assert error(exc)[:2] == ("InvalidNextToken", 400)


def test_metrics_are_the_accounts_own_and_policies_decide(
    cloud: Any, tmp_path: Path, clients: dict[str, Any]
) -> None:
    _, access, secret = new_account(cloud, tmp_path)
    theirs = client(cloud, tmp_path, "smithy-rpc-v2-cbor", (access, secret))
    ns = f"Own/{uuid.uuid4().hex[:8]}"
    theirs.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1}])
    assert len(theirs.list_metrics(Namespace=ns)["Metrics"]) == 1
    assert clients["smithy-rpc-v2-cbor"].list_metrics(Namespace=ns)["Metrics"] == []

    from tests.e2e.test_iam_accounts import euare

    iam = euare(cloud, tmp_path, access, secret)
    iam.create_user(UserName="pub")
    iam.put_user_policy(
        UserName="pub",
        PolicyName="ns",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "cloudwatch:PutMetricData",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"cloudwatch:namespace": "Allowed"}},
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="pub")["AccessKey"]
    pub = client(cloud, tmp_path, "query", (key["AccessKeyId"], key["SecretAccessKey"]))
    pub.put_metric_data(Namespace="Allowed", MetricData=[{"MetricName": "m", "Value": 1}])
    for call in (
        lambda: pub.put_metric_data(
            Namespace="Other", MetricData=[{"MetricName": "m", "Value": 1}]
        ),
        lambda: pub.list_metrics(),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("AccessDenied", 403)


def test_aws_cli_and_the_cloudwatch_path(cloud: Any) -> None:
    ns = f"Cli/{uuid.uuid4().hex[:8]}"
    cloud.aws_cli(
        "cloudwatch", "put-metric-data", "--namespace", ns, "--metric-name", "Hits",
        "--dimensions", "Site=a", "--value", "5", "--unit", "Count", check=True,
    )  # fmt: skip
    start = (now() - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now() + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = cloud.aws_cli(
        "cloudwatch", "get-metric-statistics", "--namespace", ns, "--metric-name", "Hits",
        "--dimensions", "Name=Site,Value=a", "--start-time", start, "--end-time", end,
        "--period", "60", "--statistics", "Sum", check=True,
    )  # fmt: skip
    points = json.loads(out.stdout)["Datapoints"]
    assert [(p["Sum"], p["Unit"]) for p in points] == [(5.0, "Count")]
    listed = cloud.aws_cli("cloudwatch", "list-metrics", "--namespace", ns, check=True)
    assert json.loads(listed.stdout)["Metrics"][0]["Dimensions"] == [{"Name": "Site", "Value": "a"}]
    # Eucalyptus' path answers too.
    at_path = boto3.session.Session().client(
        "cloudwatch",
        endpoint_url=cloud.endpoint + "/services/CloudWatch",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )
    assert at_path.list_metrics(Namespace=ns)["Metrics"][0]["MetricName"] == "Hits"


def test_euwatch_commands_replay_the_seed(cloud: Any) -> None:
    from tests.e2e.test_euca_commands import Euca

    euca = Euca(cloud)
    ns = f"Seed/{uuid.uuid4().hex[:8]}"
    instance = f"i-{uuid.uuid4().hex[:8].upper()}"
    hour = now().replace(minute=0, second=0, microsecond=0)
    stamp = (hour + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        euca(
            "euwatch-put-data",
            "-m",
            "CPUUtilization",
            "-n",
            ns,
            "-v",
            "20",
            "-d",
            f"InstanceId={instance}",
            "-u",
            "Percent",
            "-t",
            stamp,
        )
        == []
    )
    assert (
        euca(
            "euwatch-put-data",
            "-m",
            "CPUUtilization",
            "-n",
            ns,
            "--statistic-values",
            "Maximum=80,Minimum=10,SampleCount=3,Sum=120",
            "-d",
            f"InstanceId={instance}",
            "-u",
            "Percent",
            "-t",
            stamp,
        )
        == []
    )
    euca("euwatch-put-data", "--metric-name", "Other", "--namespace", ns, "--value", "1")
    # euwatch-list-metrics --metric-name CPUUtilization / --namespace / --dimensions
    by_dims = euca("euwatch-list-metrics", "--dimensions", f"InstanceId={instance}")
    assert by_dims == [f"CPUUtilization\t{ns}\t{{InstanceId={instance}}}"]
    assert euca("euwatch-list-metrics", "--namespace", ns) == [
        f"CPUUtilization\t{ns}\t{{InstanceId={instance}}}",
        f"Other\t{ns}\t",
    ]
    named = euca("euwatch-list-metrics", "--metric-name", "CPUUtilization")
    assert f"CPUUtilization\t{ns}\t{{InstanceId={instance}}}" in named
    # euwatch-get-stats CPUUtilization --start-time ... --period 3600 --statistics ...
    lines = euca(
        "euwatch-get-stats", "CPUUtilization",
        "--start-time", hour.strftime("%Y-%m-%dT%H:%M:%S.043Z"),
        "--end-time", (hour + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.043Z"),
        "--period", "3600", "--statistics", "Average,Minimum,Maximum",
        "--namespace", ns, "--dimensions", f"InstanceId={instance}",
    )  # fmt: skip
    assert lines == [f"{hour:%Y-%m-%d %H:%M:%S}\t\t35.0\t\t10.0\t80.0\tPercent"]
    bad = euca.run("euwatch-get-stats", "CPUUtilization", "-n", ns, "-s", "Sum", "--period", "90")
    assert bad.returncode != 0 and "multiple of 60" in bad.stderr
