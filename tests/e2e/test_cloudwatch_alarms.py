"""CloudWatch alarms, composite alarms, history, tags and dashboards through boto3 (CBOR, and
the same client forced to awsJson1_0 and query), and an alarm on a custom metric whose EC2
stop action stops an instance (the fake hypervisor's)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_cloudwatch_metrics import PROTOCOLS, client, error
from tests.e2e.test_ec2_instances import wait_state
from tests.e2e.test_ec2_snapshots import completed
from tests.e2e.test_ec2_volumes import available

pytestmark = pytest.mark.e2e
STOP = f"arn:aws:automate:{REGION}:ec2:stop"


@pytest.fixture(scope="module")
def clients(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cw-alarm-models")
    return {p: client(cloud, tmp, p) for p in PROTOCOLS}


@pytest.fixture(scope="module")
def cw(clients: dict[str, Any]) -> Any:
    return clients["smithy-rpc-v2-cbor"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def alarm(name: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "AlarmName": name,
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/EC2",
        "Statistic": "Average",
        "Period": 120,
        "Threshold": 80.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "MyASGroup"}],
        "EvaluationPeriods": 2,
    }
    params.update(extra)
    return params


def until(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_put_describe_tag_delete_in_every_protocol(clients: dict[str, Any], protocol: str) -> None:
    cw = clients[protocol]
    prefix = unique("proto")
    policy = (
        f"arn:aws:autoscaling:{REGION}:000000000000:scalingPolicy:c2a8f9dc-1c75-49d5-b54d-"
        "8ef87fe29e9a:autoScalingGroupName/MyASGroup:policyName/MyScaleoutPolicy"
    )
    cw.put_metric_alarm(
        **alarm(f"{prefix}-a", AlarmActions=[policy], Tags=[{"Key": "team", "Value": "web"}])
    )
    cw.put_metric_alarm(**alarm(f"{prefix}-b", Threshold=40.0, ActionsEnabled=False))

    found = cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == [f"{prefix}-a", f"{prefix}-b"]
    first = found[0]
    assert first["StateValue"] == "INSUFFICIENT_DATA"
    assert first["StateReason"] == "Unchecked: Initial alarm creation"
    assert first["AlarmActions"] == [policy]
    assert first["Threshold"] == 80.0 and first["Period"] == 120
    assert first["AlarmArn"].startswith(f"arn:aws:cloudwatch:{REGION}:")
    assert first["AlarmArn"].endswith(f":alarm:{prefix}-a")
    assert found[1]["ActionsEnabled"] is False

    by_action = cw.describe_alarms(ActionPrefix="arn:aws:autoscaling", AlarmNamePrefix=prefix)
    assert [a["AlarmName"] for a in by_action["MetricAlarms"]] == [f"{prefix}-a"]
    page = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=1)
    assert [a["AlarmName"] for a in page["MetricAlarms"]] == [f"{prefix}-a"]
    rest = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=1, NextToken=page["NextToken"])
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == [f"{prefix}-b"]
    assert "NextToken" not in rest

    for_metric = cw.describe_alarms_for_metric(
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Dimensions=[{"Name": "AutoScalingGroupName", "Value": "MyASGroup"}],
    )
    assert {f"{prefix}-a", f"{prefix}-b"} <= {a["AlarmName"] for a in for_metric["MetricAlarms"]}

    arn = first["AlarmArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]

    history = cw.describe_alarm_history(AlarmName=f"{prefix}-a")["AlarmHistoryItems"]
    assert [(h["HistoryItemType"], h["HistorySummary"]) for h in history] == [
        ("ConfigurationUpdate", f'Alarm "{prefix}-a" created')
    ]
    assert json.loads(history[0]["HistoryData"])["type"] == "Create"

    cw.delete_alarms(AlarmNames=[f"{prefix}-a", f"{prefix}-b"])
    assert cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []
    with pytest.raises(ClientError) as err:
        cw.list_tags_for_resource(ResourceARN=arn)
    assert error(err)[:2] == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Period": 45}, "ValidationError"),
        ({"Period": 60, "EvaluationPeriods": 1441}, "ValidationError"),
        ({"Period": 3600, "EvaluationPeriods": 169}, "ValidationError"),
        ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "ValidationError"),
        ({"ExtendedStatistic": "p90"}, "InvalidParameterCombination"),
        ({"DatapointsToAlarm": 3}, "ValidationError"),
        ({"TreatMissingData": "sometimes"}, "ValidationError"),
        ({"AlarmActions": [STOP]}, "ValidationError"),
        ({"AlarmActions": ["not-an-arn"]}, "ValidationError"),
        ({"AlarmActions": ["arn:aws:automate:elsewhere:ec2:stop"]}, "ValidationError"),
    ],
)
def test_put_metric_alarm_refuses_what_aws_refuses(
    cw: Any, change: dict[str, Any], code: str
) -> None:
    with pytest.raises(ClientError) as err:
        cw.put_metric_alarm(**alarm(unique("bad"), **change))
    assert error(err)[:2] == (code, 400)


def test_period_and_high_resolution_limits_accept_what_aws_accepts(cw: Any) -> None:
    name = unique("ok")
    cw.put_metric_alarm(**alarm(name, Period=10, EvaluationPeriods=8640))
    cw.put_metric_alarm(**alarm(f"{name}-h", Period=3600, EvaluationPeriods=168))
    cw.delete_alarms(AlarmNames=[name, f"{name}-h"])


def test_set_alarm_state_history_and_its_errors(cw: Any) -> None:
    name = unique("state")
    cw.put_metric_alarm(**alarm(name))
    cw.set_alarm_state(
        AlarmName=name,
        StateValue="ALARM",
        StateReason="testing",
        StateReasonData=json.dumps({"why": "test"}),
    )
    shown = cw.describe_alarms(AlarmNames=[name], StateValue="ALARM")["MetricAlarms"]
    assert [(a["StateValue"], a["StateReason"]) for a in shown] == [("ALARM", "testing")]
    items = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]
    assert items[0]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert json.loads(items[0]["HistoryData"])["newState"]["stateReasonData"] == {"why": "test"}

    oldest = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending", MaxRecords=1)
    assert oldest["AlarmHistoryItems"][0]["HistoryItemType"] == "ConfigurationUpdate"
    newer = cw.describe_alarm_history(
        AlarmName=name, ScanBy="TimestampAscending", MaxRecords=1, NextToken=oldest["NextToken"]
    )
    assert newer["AlarmHistoryItems"][0]["HistoryItemType"] == "StateUpdate"

    with pytest.raises(ClientError) as err:
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="x", StateReasonData="{")
    assert error(err)[:2] == ("InvalidFormat", 400)
    with pytest.raises(ClientError) as err:
        cw.set_alarm_state(AlarmName=unique("none"), StateValue="OK", StateReason="x")
    assert error(err)[:2] == ("ResourceNotFound", 404)
    with pytest.raises(ClientError) as err:
        cw.delete_alarms(AlarmNames=[name, unique("none")])
    assert error(err)[:2] == ("ResourceNotFound", 404)
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    with pytest.raises(ClientError) as err:
        cw.describe_alarms(AlarmNames=[name], AlarmNamePrefix="x")
    assert error(err)[:2] == ("InvalidParameterCombination", 400)
    with pytest.raises(ClientError) as err:
        cw.describe_alarms(NextToken="garbage")
    assert error(err)[:2] == ("InvalidNextToken", 400)
    cw.delete_alarms(AlarmNames=[name])


def test_enable_and_disable_alarm_actions(cw: Any) -> None:
    name = unique("actions")
    cw.put_metric_alarm(**alarm(name))
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is True
    cw.delete_alarms(AlarmNames=[name])


def test_composite_alarms_follow_their_children(cw: Any) -> None:
    child, other, parent = unique("child"), unique("other"), unique("parent")
    cw.put_metric_alarm(**alarm(child))
    cw.put_metric_alarm(**alarm(other))
    for bad in ("ALARM(", f"ALARM({child}) AND", f"ALARM({child}) XOR OK({other})"):
        with pytest.raises(ClientError) as err:
            cw.put_composite_alarm(AlarmName=parent, AlarmRule=bad)
        assert error(err)[:2] == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        cw.put_composite_alarm(AlarmName=parent, AlarmRule=f"ALARM({unique('nobody')})")
    assert error(err)[:2] == ("ValidationError", 400)

    rule = f'ALARM("{child}") AND NOT (OK({other}) OR FALSE)'
    cw.put_composite_alarm(AlarmName=parent, AlarmRule=rule)
    # Without AlarmTypes only metric alarms are described (AWS).
    assert cw.describe_alarms(AlarmNames=[parent])["CompositeAlarms"] == []
    shown = cw.describe_alarms(AlarmNames=[parent], AlarmTypes=["CompositeAlarm"])
    assert shown["CompositeAlarms"][0]["AlarmRule"] == rule
    children = cw.describe_alarms(ChildrenOfAlarmName=parent)
    assert sorted(a["AlarmName"] for a in children["MetricAlarms"]) == sorted([child, other])
    parents = cw.describe_alarms(ParentsOfAlarmName=child)
    assert [a["AlarmName"] for a in parents["CompositeAlarms"]] == [parent]

    cw.set_alarm_state(AlarmName=child, StateValue="ALARM", StateReason="test")

    def parent_alarmed() -> bool:
        # The history, not the state: the child's next evaluation (it has no data) undoes it.
        items = cw.describe_alarm_history(
            AlarmName=parent, AlarmTypes=["CompositeAlarm"], HistoryItemType="StateUpdate"
        )["AlarmHistoryItems"]
        return any(i["HistorySummary"].endswith(" to ALARM") for i in items)

    until(parent_alarmed, 30, "the composite to follow its child")
    history = cw.describe_alarm_history(
        AlarmName=parent, AlarmTypes=["CompositeAlarm"], HistoryItemType="StateUpdate"
    )["AlarmHistoryItems"]
    to_alarm = [i for i in history if i["HistorySummary"].endswith(" to ALARM")]
    reason = json.loads(to_alarm[0]["HistoryData"])["newState"]["stateReason"]
    assert f"alarm:{child} transitioned to ALARM" in reason
    cw.delete_alarms(AlarmNames=[parent, child, other])


def test_a_metric_math_alarm_goes_to_alarm(cw: Any) -> None:
    ns, name = unique("Test/Math"), unique("math")

    def stat(qid: str, metric: str) -> dict[str, Any]:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": ns, "MetricName": metric},
                "Period": 10,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    queries = [
        stat("errors", "Errors"),
        stat("requests", "Requests"),
        {"Id": "rate", "Expression": "100 * errors / requests", "ReturnData": True},
    ]
    with pytest.raises(ClientError) as err:
        cw.put_metric_alarm(
            AlarmName=name,
            Metrics=[*queries[:2], {**queries[2], "ReturnData": False}],
            EvaluationPeriods=1,
            Threshold=10.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    assert error(err)[:2] == ("ValidationError", 400)
    cw.put_metric_alarm(
        AlarmName=name,
        Metrics=queries,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["Metrics"][2] == queries[2]

    def state() -> str:
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[
                {"MetricName": "Errors", "Value": 5.0, "StorageResolution": 1},
                {"MetricName": "Requests", "Value": 20.0, "StorageResolution": 1},
            ],
        )
        return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    until(lambda: state() == "ALARM", 60, "the metric math alarm to go to ALARM")
    reason = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateReason"]
    assert reason.startswith("Threshold Crossed: 1 datapoint [25.0 (")
    cw.delete_alarms(AlarmNames=[name])


def test_dashboards(cw: Any) -> None:
    name = unique("dash")
    body = {
        "widgets": [
            {
                "type": "metric",
                "x": 0,
                "y": 0,
                "width": 12,
                "height": 6,
                "properties": {"metrics": [["AWS/EC2", "CPUUtilization"]], "region": REGION},
            },
            {"type": "text", "properties": {"markdown": "# Hello"}},
        ]
    }
    assert (
        cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))[
            "DashboardValidationMessages"
        ]
        == []
    )
    got = cw.get_dashboard(DashboardName=name)
    assert json.loads(got["DashboardBody"]) == body
    assert got["DashboardArn"].endswith(f":dashboard/{name}")
    listed = cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert [(d["DashboardName"], d["Size"]) for d in listed] == [(name, len(json.dumps(body)))]
    for bad in ("not json", "[]", json.dumps({"widgets": [{"type": "pie", "properties": {}}]})):
        with pytest.raises(ClientError) as err:
            cw.put_dashboard(DashboardName=name, DashboardBody=bad)
        assert error(err)[:2] == ("InvalidParameterInput", 400)
    with pytest.raises(ClientError) as err:
        cw.delete_dashboards(DashboardNames=[name, unique("none")])
    assert error(err)[:2] == ("ResourceNotFound", 404)
    cw.delete_dashboards(DashboardNames=[name])
    with pytest.raises(ClientError) as err:
        cw.get_dashboard(DashboardName=name)
    assert error(err)[:2] == ("ResourceNotFound", 404)


def ebs_image(ec2: Any) -> str:
    """An EBS-backed image (only those can be stopped, as in AWS)."""
    snapshot = completed(ec2, available(ec2))
    made = ec2.register_image(
        Name=unique("alarm-ebs"),
        RootDeviceName="/dev/sda",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": snapshot}}],
    )
    return str(made["ImageId"])


def test_an_alarm_on_a_custom_metric_stops_its_instance(cloud: Cloud, cw: Any) -> None:
    ec2 = cloud.client("ec2")
    run = ec2.run_instances(ImageId=ebs_image(ec2), MinCount=1, MaxCount=1)
    iid = run["Instances"][0]["InstanceId"]
    wait_state(ec2, [iid], "running")
    ns, name = unique("Test/App"), unique("stopper")
    dims = [{"Name": "InstanceId", "Value": iid}]
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace=ns,
        MetricName="Load",
        Dimensions=dims,
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=80.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[STOP],
    )

    def alarm_state() -> str:
        # High-resolution points until the alarm sees one in a closed 10-second period.
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[
                {"MetricName": "Load", "Dimensions": dims, "Value": 95.0, "StorageResolution": 1}
            ],
        )
        return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    until(lambda: alarm_state() == "ALARM", 60, "the alarm to go to ALARM")
    shown = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert shown["StateReason"].startswith("Threshold Crossed: 1 datapoint [95.0 (")
    assert shown["StateReason"].endswith("was greater than the threshold (80.0).")
    wait_state(ec2, [iid], "stopped")

    def actions() -> list[dict[str, Any]]:
        return list(
            cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")["AlarmHistoryItems"]
        )

    done = until(actions, 30, "the action's history item")
    assert [a["HistorySummary"] for a in done] == [f"Successfully executed action {STOP}"]

    # Without new data the alarm leaves ALARM (no actions for INSUFFICIENT_DATA); then
    # SetAlarmState runs the ALARM actions once, as AWS does.
    def state() -> str:
        return str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])

    until(lambda: state() == "INSUFFICIENT_DATA", 60, "the alarm to run out of data")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    until(lambda: len(actions()) == 2, 30, "the second action")
    updates = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")
    summaries = [h["HistorySummary"] for h in updates["AlarmHistoryItems"]]
    # Two transitions to ALARM, one action each.
    assert summaries.count("Alarm updated from INSUFFICIENT_DATA to ALARM") == 2
    assert len(actions()) == 2
    cw.delete_alarms(AlarmNames=[name])
    ec2.terminate_instances(InstanceIds=[iid])


def test_euwatch_alarm_commands_replay_the_seed(cloud: Cloud, cw: Any) -> None:
    from tests.e2e.test_euca_commands import TIME, Euca, matches

    euca = Euca(cloud)
    euca.env["AWS_CLOUDWATCH_URL"] = f"{cloud.endpoint}/services/CloudWatch"
    group = unique("MyASGroup")
    out_policy = (
        "arn:aws:autoscaling::576514848852:scalingPolicy:c2a8f9dc-1c75-49d5-b54d-8ef87fe29e9a:"
        f"autoScalingGroupName/{group}:policyName/MyScaleoutPolicy"
    )
    in_policy = (
        "arn:aws:autoscaling::576514848852:scalingPolicy:a4148c27-81da-4eff-9140-cba3ba9381cb:"
        f"autoScalingGroupName/{group}:policyName/MyScaleInPolicy"
    )
    add, remove = unique("AddCapacity"), unique("RemoveCapacity")
    for name, threshold, operator, policy in (
        (add, "80", "GreaterThanOrEqualToThreshold", out_policy),
        (remove, "40", "LessThanOrEqualToThreshold", in_policy),
    ):
        assert euca(
            "euwatch-put-metric-alarm", name,
            "--metric-name", "CPUUtilization",
            "--namespace", "AWS/EC2",
            "--statistic", "Average",
            "--period", "120", "--threshold", threshold,
            "--comparison-operator", operator,
            "--dimensions", f"AutoScalingGroupName={group}",
            "--evaluation-periods", "2",
            "--alarm-actions", policy,
        ) == []  # fmt: skip
    # No data comes for these metrics: treated as not breaching (which euwatch-put-metric-alarm
    # cannot say), the engine keeps them OK instead of racing the commands below back to
    # INSUFFICIENT_DATA.
    keep = ("AlarmName", "MetricName", "Namespace", "Statistic", "Period", "Threshold",
            "ComparisonOperator", "Dimensions", "EvaluationPeriods", "AlarmActions")  # fmt: skip
    for found in cw.describe_alarms(AlarmNames=[add, remove])["MetricAlarms"]:
        cw.put_metric_alarm(**{k: found[k] for k in keep}, TreatMissingData="notBreaching")
    # The seed's output lines.
    seed = [
        f"{add}\tOK\t{out_policy}\tAWS/EC2\tCPUUtilization\t120\tAverage\t2\t"
        "GreaterThanOrEqualToThreshold\t80.0",
        f"{remove}\tOK\t{in_policy}\tAWS/EC2\tCPUUtilization\t120\tAverage\t2\t"
        "LessThanOrEqualToThreshold\t40.0",
    ]

    def set_and_describe() -> bool:
        for name in (add, remove):
            done = euca(
                "euwatch-set-alarm-state", "--state-value", "OK", "--state-reason", "testing", name
            )
            assert done == []
        return euca("euwatch-describe-alarms", add, remove) == seed

    until(set_and_describe, 60, "the seed's lines")
    long = euca("euwatch-describe-alarms", "--show-long", "--alarm-name-prefix", add)
    assert long[0].split("\t")[:3] == [add, "", "OK"]
    assert f"{{AutoScalingGroupName={group}}}" in long[0].split("\t")
    assert euca("euwatch-describe-alarms", "--state-value", "ALARM", add) == []
    history = euca("euwatch-describe-alarm-history", add, "--history-item-type", "StateUpdate")
    matches(
        history[-1:], rf"{add}\t{TIME}\tStateUpdate\tAlarm updated from INSUFFICIENT_DATA to OK"
    )
    euca("euwatch-disable-alarm-actions", add)
    long = euca("euwatch-describe-alarms", "--show-long", add)
    assert long[0].split("\t")[5] == "false"
    euca("euwatch-enable-alarm-actions", add)
    assert euca("euwatch-delete-alarms", add, remove) == []
    assert euca("euwatch-describe-alarms", add, remove) == []
    gone = euca.run("euwatch-set-alarm-state", "--state-value", "OK", "--state-reason", "x", add)
    assert gone.returncode != 0 and "ResourceNotFound" in gone.stderr
