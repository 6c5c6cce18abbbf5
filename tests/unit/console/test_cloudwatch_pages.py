"""The CloudWatch pages against a fake cloud: an instance's graphs asked of GetMetricData at a
period keeping them to 300 points, alarms listed by the API's filters, created from the form
(an EC2 action as its automate ARN), shown with their history and graph, acted on; dashboards
drawn from their body, edited with the API's refusal shown, deleted after asking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console
from mallee.console.pages import metric_graphs as mg
from mallee.console.pages.dashboard_widgets import metric_lines, widgets
from tests.unit.console.test_pages import Fake, refused, sign_in

pytestmark = pytest.mark.nodb

INSTANCE = "i-0000000a"


@pytest.fixture
def clients() -> dict[str, Fake]:
    return {}


@pytest.fixture
def console(tmp_path: Path, clients: dict[str, Fake], monkeypatch: pytest.MonkeyPatch) -> Console:
    made = Console(Settings(data_dir=tmp_path, port=1, region="eucalyptus"))
    monkeypatch.setattr(made.cloud, "client", lambda service, keys: clients[service])
    return made


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console, follow_redirects=False) as c:
        yield c


def _instance(monitoring: str = "enabled") -> dict[str, Any]:
    return {
        "Reservations": [
            {
                "Instances": [
                    {
                        "InstanceId": INSTANCE,
                        "State": {"Name": "running"},
                        "Monitoring": {"State": monitoring},
                        "Tags": [{"Key": "Name", "Value": "web"}],
                    }
                ]
            }
        ]
    }


def _metric_data(values: dict[str, list[float]]) -> Any:
    """GetMetricData answering each query with `values` of its metric name, a minute apart
    up to its EndTime (as ISO text, as the console's clients keep timestamps)."""

    def answer(params: dict[str, Any]) -> dict[str, Any]:
        end = params["EndTime"].timestamp()
        results = []
        for q in params["MetricDataQueries"]:
            name = q["MetricStat"]["Metric"]["MetricName"]
            found = values.get(name, [])
            stamps = [
                datetime.fromtimestamp(end - 60 * (len(found) - n), UTC).isoformat()
                for n in range(len(found))
            ]
            results.append(
                {"Id": q["Id"], "Timestamps": stamps, "Values": found, "StatusCode": "Complete"}
            )
        return {"MetricDataResults": results}

    return answer


def test_periods_keep_a_graph_to_300_points() -> None:
    for key, _, seconds in mg.RANGES:
        span = mg.window(key, 60, now=1_000_000.0)
        assert span.period % 60 == 0 and seconds / span.period <= mg.MAX_POINTS
        assert span.end - span.start == seconds and span.end % span.period == 0
    assert mg.window("1h", 60).period == 60
    assert mg.window("1h", 300).period == 300  # basic monitoring: no finer than its data
    assert mg.window("1w").period == 3600
    assert mg.window("nonsense").key == mg.DEFAULT_RANGE
    assert mg.epoch("2026-12-07T12:00:00Z") == mg.epoch(datetime(2026, 12, 7, 12, tzinfo=UTC))
    assert mg.epoch(1796644800) == 1796644800.0


def test_an_instance_s_graphs_come_from_one_get_metric_data(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = Fake({"describe_instances": _instance()})
    clients["cloudwatch"] = cw = Fake(
        {"get_metric_data": _metric_data({"CPUUtilization": [10.0, 20.0, 35.5], "NetworkIn": []})}
    )
    sign_in(console, client)
    page = client.get("/console/instances/monitoring", params={"id": INSTANCE, "range": "1h"})
    assert page.status_code == 200
    [asked] = cw.asked("get_metric_data")
    queries = asked["MetricDataQueries"]
    names = [q["MetricStat"]["Metric"]["MetricName"] for q in queries]
    assert names == [
        "CPUUtilization", "NetworkIn", "NetworkOut", "DiskReadBytes", "DiskWriteBytes"
    ]  # fmt: skip
    for q in queries:
        assert q["MetricStat"]["Period"] == 60 and q["MetricStat"]["Stat"] == "Average"
        assert q["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "InstanceId", "Value": INSTANCE}
        ]
    assert (asked["EndTime"] - asked["StartTime"]).total_seconds() == 3600
    text = page.text
    assert text.count("<svg") == 3
    # CPU has a line; the network and disk graphs say they have no data.
    assert '<path class="line"' in text and text.count("No data for this range") == 2
    assert 'class="active">1 hour</a>' in text
    assert 'aria-current="page" class="active">Monitoring</a>' in text
    # Refreshed by htmx in place.
    assert 'hx-get="/console/instances/monitoring/graphs?' in text
    fragment = client.get(
        "/console/instances/monitoring/graphs",
        params={"id": INSTANCE, "range": "1w", "detailed": "1"},
        headers={"hx-request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count("<svg") == 3
    week = cw.asked("get_metric_data")[-1]["MetricDataQueries"][0]["MetricStat"]["Period"]
    assert week == 3600


def test_basic_monitoring_graphs_at_five_minutes_and_monitoring_is_switched(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake({"describe_instances": _instance("disabled")})
    clients["cloudwatch"] = cw = Fake({"get_metric_data": {"MetricDataResults": []}})
    csrf = sign_in(console, client)
    page = client.get("/console/instances/monitoring", params={"id": INSTANCE, "range": "1h"})
    assert cw.asked("get_metric_data")[0]["MetricDataQueries"][0]["MetricStat"]["Period"] == 300
    assert "Enable detailed monitoring" in page.text
    done = client.post(
        "/console/instances/monitoring", data={"_csrf": csrf, "id": INSTANCE, "op": "enable"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/instances/monitoring?id={INSTANCE}"
    assert ec2.asked("monitor_instances") == [{"InstanceIds": [INSTANCE]}]
    client.post(
        "/console/instances/monitoring", data={"_csrf": csrf, "id": INSTANCE, "op": "disable"}
    )
    assert ec2.asked("unmonitor_instances") == [{"InstanceIds": [INSTANCE]}]


def test_an_instance_is_launched_with_detailed_monitoring(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake({"run_instances": {"Instances": [{"InstanceId": INSTANCE}]}})
    csrf = sign_in(console, client)
    form = {"_csrf": csrf, "image": "emi-00000001", "count": "1", "monitoring": "on"}
    client.post("/console/instances/launch", data=form)
    assert ec2.asked("run_instances")[0]["Monitoring"] == {"Enabled": True}


def _alarm(name: str, state: str = "OK", **extra: Any) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "StateValue": state,
        "StateReason": "Threshold Crossed",
        "Namespace": "AWS/EC2",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": INSTANCE}],
        "Statistic": "Average",
        "Period": 300,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 80.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "ActionsEnabled": True,
        "AlarmActions": ["arn:aws:automate:eucalyptus:ec2:stop"],
        **extra,
    }


def test_alarms_are_listed_by_the_api_s_filters(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    answer = {"MetricAlarms": [_alarm("cpu-high", "ALARM"), _alarm("cpu-low", "OK")]}
    clients["cloudwatch"] = cw = Fake({"describe_alarms": answer})
    sign_in(console, client)
    page = client.get("/console/alarms", params={"state": "ALARM", "prefix": "cpu", "size": "25"})
    assert page.status_code == 200
    assert cw.asked("describe_alarms") == [
        {
            "MaxRecords": 25,
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            "StateValue": "ALARM",
            "AlarmNamePrefix": "cpu",
        }
    ]
    text = page.text
    assert '<span class="state alarm-ALARM"' in text and '<span class="state alarm-OK"' in text
    assert f"AWS/EC2 CPUUtilization (InstanceId={INSTANCE})" in text
    assert "Average &gt; 80 for 2 of 3 periods of 5 min" in text
    assert ">enabled<" in text
    assert 'href="/console/alarms" class="active"' in text
    # An unknown state is no filter.
    client.get("/console/alarms", params={"state": "SOMETHING"})
    assert "StateValue" not in cw.asked("describe_alarms")[-1]


def test_an_alarm_is_created_with_its_ec2_action(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = Fake({"describe_instances": _instance()})
    clients["cloudwatch"] = cw = Fake({"put_metric_alarm": {}})
    csrf = sign_in(console, client)
    form = client.get("/console/alarms/create", params={"instance": INSTANCE})
    assert f'<option value="{INSTANCE}" selected>' in form.text
    fields = {
        "_csrf": csrf,
        "name": "cpu-high",
        "namespace": "AWS/EC2",
        "metric": "CPUUtilization",
        "instance": INSTANCE,
        "statistic": "Maximum",
        "period": "60",
        "evaluation_periods": "2",
        "comparison": "GreaterThanOrEqualToThreshold",
        "threshold": "75.5",
        "missing": "breaching",
        "action": "stop",
    }
    done = client.post("/console/alarms/create", data=fields)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/alarms/detail?name=cpu-high"
    assert cw.asked("put_metric_alarm") == [
        {
            "AlarmName": "cpu-high",
            "Namespace": "AWS/EC2",
            "MetricName": "CPUUtilization",
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 2,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 75.5,
            "TreatMissingData": "breaching",
            "ActionsEnabled": True,
            "Dimensions": [{"Name": "InstanceId", "Value": INSTANCE}],
            "AlarmActions": ["arn:aws:automate:eucalyptus:ec2:stop"],
        }
    ]
    # Refused: the form again as it was filled, with the API's words.
    cw.answers["put_metric_alarm"] = refused(
        "InvalidParameterValue", "The parameter Period must be a multiple of 60."
    )
    again = client.post("/console/alarms/create", data={**fields, "period": "90"})
    assert again.status_code == 400
    assert "InvalidParameterValue: The parameter Period must be a multiple of 60." in again.text
    assert 'value="cpu-high"' in again.text and 'value="75.5"' in again.text
    # An action on an instance needs the instance: refused before asking.
    asked = len(cw.asked("put_metric_alarm"))
    alone = client.post("/console/alarms/create", data={**fields, "instance": ""})
    assert alone.status_code == 400 and "needs its InstanceId" in alone.text
    assert len(cw.asked("put_metric_alarm")) == asked


def test_an_alarm_s_page_has_its_history_and_graph_and_its_actions(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    history = {
        "AlarmHistoryItems": [
            {
                "Timestamp": "2026-12-07T12:00:00.000Z",
                "HistoryItemType": "StateUpdate",
                "HistorySummary": "Alarm updated from OK to ALARM",
            }
        ]
    }
    clients["cloudwatch"] = cw = Fake(
        {
            "describe_alarms": {"MetricAlarms": [_alarm("cpu-high", "ALARM")]},
            "describe_alarm_history": history,
            "get_metric_data": _metric_data({"CPUUtilization": [90.0, 95.0]}),
        }
    )
    csrf = sign_in(console, client)
    page = client.get("/console/alarms/detail", params={"name": "cpu-high"})
    assert page.status_code == 200
    assert cw.asked("describe_alarm_history") == [{"AlarmName": "cpu-high", "MaxRecords": 50}]
    assert "Alarm updated from OK to ALARM" in page.text
    [asked] = cw.asked("get_metric_data")
    stat = asked["MetricDataQueries"][0]["MetricStat"]
    assert stat["Stat"] == "Average" and stat["Period"] >= 300
    assert '<g class="threshold"' in page.text and "threshold 80%" in page.text
    assert "arn:aws:automate:eucalyptus:ec2:stop" in page.text

    back = "/alarms/detail?name=cpu-high"
    form = {"_csrf": csrf, "name": "cpu-high", "_back": back}
    done = client.post("/console/alarms/actions", data={**form, "op": "disable"})
    assert done.headers["location"] == f"/console{back}"
    assert cw.asked("disable_alarm_actions") == [{"AlarmNames": ["cpu-high"]}]
    client.post("/console/alarms/actions", data={**form, "op": "enable"})
    assert cw.asked("enable_alarm_actions") == [{"AlarmNames": ["cpu-high"]}]
    client.post("/console/alarms/state", data={**form, "state": "OK", "reason": "testing"})
    assert cw.asked("set_alarm_state") == [
        {"AlarmName": "cpu-high", "StateValue": "OK", "StateReason": "testing"}
    ]
    asked_first = client.post("/console/alarms/delete", data=form)
    assert "Delete alarm cpu-high?" in asked_first.text and not cw.asked("delete_alarms")
    done = client.post("/console/alarms/delete", data={**form, "confirmed": "yes"})
    assert done.headers["location"] == "/console/alarms"  # its page is gone
    assert cw.asked("delete_alarms") == [{"AlarmNames": ["cpu-high"]}]
    # Refused: by the form it came from.
    cw.answers["set_alarm_state"] = refused("ResourceNotFound", "Alarm cpu-high does not exist")
    cw.answers["describe_alarms"] = {"MetricAlarms": [_alarm("cpu-high")]}
    client.post("/console/alarms/state", data={**form, "state": "OK"})
    shown = client.get("/console/alarms/detail", params={"name": "cpu-high"}).text
    error = "ResourceNotFound: Alarm cpu-high does not exist"
    assert shown.index(error) > shown.index('<h2 id="set-state">')


def test_metric_widgets_are_read_as_aws_reads_them() -> None:
    props = {
        "period": 60,
        "stat": "Sum",
        "metrics": [
            ["AWS/EC2", "CPUUtilization", "InstanceId", "i-1"],
            ["...", "i-2", {"stat": "Maximum", "label": "second", "id": "b"}],
            [".", "NetworkIn", ".", "i-3", {"period": 300, "visible": False}],
            [{"expression": "m1 + b", "label": "sum", "id": "e1"}],
            "not an array",
        ],
    }
    lines, period, problems = metric_lines(props)
    assert [line.id for line in lines] == ["m1", "b", "m3", "e1"]
    dims = [line.stat["Metric"]["Dimensions"] if line.stat else None for line in lines]
    assert dims[1] == [{"Name": "InstanceId", "Value": "i-2"}]
    assert lines[1].stat is not None and lines[1].stat["Stat"] == "Maximum"
    assert lines[2].stat is not None
    assert lines[2].stat["Metric"]["MetricName"] == "NetworkIn" and not lines[2].returned
    assert lines[0].stat is not None and lines[0].stat["Stat"] == "Sum"
    assert lines[3].expression == "m1 + b" and lines[3].label == "sum"
    assert period == 300 and problems == ["metrics[4] is not an array"]
    assert [w.kind for w in widgets('{"widgets": [{"type": "log", "properties": {}}]}')] == ["log"]


def test_a_dashboard_is_drawn_from_its_body(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    body = {
        "widgets": [
            {
                "type": "metric",
                "x": 0,
                "y": 1,
                "properties": {
                    "title": "CPU",
                    "period": 60,
                    "metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", INSTANCE]],
                },
            },
            {"type": "text", "x": 0, "y": 0, "properties": {"markdown": "# <b>Fleet</b>"}},
        ]
    }
    clients["cloudwatch"] = cw = Fake(
        {
            "list_dashboards": {
                "DashboardEntries": [
                    {"DashboardName": "fleet", "LastModified": "2026-12-07T12:00:00Z", "Size": 9}
                ]
            },
            "get_dashboard": {"DashboardName": "fleet", "DashboardBody": json.dumps(body)},
            "get_metric_data": _metric_data({"CPUUtilization": [1.0, 2.0, 3.0]}),
        }
    )
    sign_in(console, client)
    listed = client.get("/console/dashboards")
    assert 'href="/console/dashboards/view?name=fleet"' in listed.text
    assert 'href="/console/dashboards" class="active"' in listed.text
    page = client.get("/console/dashboards/view", params={"name": "fleet", "range": "1h"})
    assert page.status_code == 200
    assert cw.asked("get_dashboard") == [{"DashboardName": "fleet"}]
    [asked] = cw.asked("get_metric_data")
    assert asked["MetricDataQueries"][0]["MetricStat"]["Period"] == 60
    text = page.text
    # The text widget first (it is above), as text: its markup escaped.
    assert "# &lt;b&gt;Fleet&lt;/b&gt;" in text and "<b>Fleet" not in text
    assert text.index("Fleet") < text.index("<svg")
    assert text.count("<svg") == 1 and '<path class="line"' in text


def test_a_dashboard_body_refused_is_shown_with_its_messages(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["cloudwatch"] = cw = Fake({"put_dashboard": {"DashboardValidationMessages": []}})
    csrf = sign_in(console, client)
    new = client.get("/console/dashboards/edit")
    assert "CPUUtilization" in new.text and 'name="new" value="yes"' in new.text
    body = '{"widgets": [{"type": "metric", "properties": {}}]}'
    done = client.post(
        "/console/dashboards/edit",
        data={"_csrf": csrf, "name": "fleet", "body": body, "new": "yes"},
    )
    assert done.headers["location"] == "/console/dashboards/view?name=fleet"
    assert cw.asked("put_dashboard") == [{"DashboardName": "fleet", "DashboardBody": body}]
    error = refused("InvalidParameterInput", "Should be array")
    error.response["dashboardValidationMessages"] = [
        {"DataPath": "/widgets", "Message": "Should be array"}
    ]
    cw.answers["put_dashboard"] = error
    bad = '{"widgets": {}}'
    again = client.post(
        "/console/dashboards/edit", data={"_csrf": csrf, "name": "fleet", "body": bad}
    )
    assert again.status_code == 400
    assert "InvalidParameterInput: Should be array" in again.text
    assert "/widgets: Should be array" in again.text
    assert "{&#34;widgets&#34;: {}}" in again.text  # the body as typed, to correct

    cw.answers["delete_dashboards"] = {}
    form = {"_csrf": csrf, "name": "fleet"}
    assert "Delete dashboard fleet?" in client.post("/console/dashboards/delete", data=form).text
    done = client.post("/console/dashboards/delete", data={**form, "confirmed": "yes"})
    assert done.headers["location"] == "/console/dashboards"
    assert cw.asked("delete_dashboards") == [{"DashboardNames": ["fleet"]}]
