"""The load balancer pages against a fake cloud: the list a page at a time (as
DescribeLoadBalancers pages, filtered by name), creating one with its zones and listeners,
its own page built from the API's answers, each form's parameters as the API takes them,
confirmations before removing anything, and refusals shown by their form."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console
from tests.unit.console.test_pages import Fake, links, refused, sign_in

pytestmark = pytest.mark.nodb

NAME = "web"
HERE = f"/load-balancers/detail?name={NAME}"
CERT = "arn:aws:iam::000000000001:server-certificate/site"
DNS = "web-0a1b2c3d.eucalyptus.elb.cloud.internal"


@pytest.fixture
def clients() -> dict[str, Fake]:
    return {}


@pytest.fixture
def console(tmp_path: Path, clients: dict[str, Fake], monkeypatch: pytest.MonkeyPatch) -> Console:
    made = Console(Settings(data_dir=tmp_path, port=1))
    monkeypatch.setattr(made.cloud, "client", lambda service, keys: clients[service])
    return made


@pytest.fixture
def client(console: Console) -> Iterator[TestClient]:
    with TestClient(console, follow_redirects=False) as c:
        yield c


def _lb(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "LoadBalancerName": name,
        "DNSName": f"{name}-0a1b2c3d.eucalyptus.elb.cloud.internal",
        "Scheme": "internet-facing",
        "AvailabilityZones": ["zone-a", "zone-b"],
        "ListenerDescriptions": [
            {
                "Listener": {
                    "Protocol": "HTTP",
                    "LoadBalancerPort": 80,
                    "InstanceProtocol": "HTTP",
                    "InstancePort": 8080,
                },
                "PolicyNames": [],
            },
            {
                "Listener": {
                    "Protocol": "TCP",
                    "LoadBalancerPort": 22,
                    "InstanceProtocol": "TCP",
                    "InstancePort": 22,
                },
                "PolicyNames": [],
            },
        ],
        "Policies": {
            "LBCookieStickinessPolicies": [],
            "AppCookieStickinessPolicies": [],
            "OtherPolicies": [],
        },
        "Instances": [{"InstanceId": "i-00000001"}, {"InstanceId": "i-00000002"}],
        "HealthCheck": {
            "Target": "HTTP:8080/health",
            "Interval": 30,
            "Timeout": 5,
            "UnhealthyThreshold": 2,
            "HealthyThreshold": 10,
        },
        "CreatedTime": "2026-12-07T10:00:00.000Z",
        **extra,
    }


def _clouds(clients: dict[str, Fake], elb: dict[str, Any]) -> Fake:
    clients["ec2"] = Fake(
        {
            "describe_availability_zones": {
                "AvailabilityZones": [
                    {"ZoneName": "zone-a", "State": "available"},
                    {"ZoneName": "zone-b", "State": "available"},
                ]
            },
            "describe_instances": {
                "Reservations": [
                    {
                        "Instances": [
                            {
                                "InstanceId": iid,
                                "State": {"Name": "running"},
                                "Placement": {"AvailabilityZone": "zone-a"},
                                "PrivateIpAddress": "10.1.0.5",
                                "Tags": [{"Key": "Name", "Value": "back"}],
                            }
                            for iid in ("i-00000001", "i-00000003")
                        ]
                    }
                ]
            },
        }
    )
    clients["iam"] = Fake(
        {
            "list_server_certificates": {
                "ServerCertificateMetadataList": [{"Arn": CERT, "ServerCertificateName": "site"}],
                "IsTruncated": False,
            }
        }
    )
    clients["elb"] = made = Fake(elb)
    return made


def test_load_balancers_are_asked_for_a_page_at_a_time(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    pages = {None: ([_lb("alpha"), _lb("beta")], "mark-2"), "mark-2": ([_lb("gamma")], None)}

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        if params.get("LoadBalancerNames") == ["ghost"]:
            raise refused("LoadBalancerNotFound", "There is no ACTIVE Load Balancer named 'ghost'")
        found, following = pages[params.get("Marker")]
        return {
            "LoadBalancerDescriptions": found,
            **({"NextMarker": following} if following else {}),
        }

    elb = _clouds(clients, {"describe_load_balancers": describe})
    sign_in(console, client)
    first = client.get(
        "/console/load-balancers", params={"size": "25", "sort": "name", "dir": "desc"}
    )
    assert first.status_code == 200
    assert elb.asked("describe_load_balancers") == [{"PageSize": 25}]
    text = first.text
    assert text.index(">beta<") < text.index(">alpha<")
    row = text[text.index('id="row-alpha"') :]
    row = row[: row.index("</tr>")]
    for shown in (
        "alpha-0a1b2c3d.eucalyptus.elb.cloud.internal",
        "internet-facing",
        "zone-a, zone-b",
        "HTTP:80 -&gt; HTTP:8080, TCP:22 -&gt; TCP:22",
        "<td>2</td>",
        "2026-12-07T10:00:00.000Z",
    ):
        assert shown in row, shown
    assert 'href="/console/load-balancers" class="active"' in text
    # The create form: the zones to choose, and the account's certificates for HTTPS/SSL.
    assert 'name="zone:zone-b"' in text and f'<option value="{CERT}">site</option>' in text
    [following] = links(text, "next")
    second = client.get("/console/load-balancers", params={k: v[0] for k, v in following.items()})
    assert elb.asked("describe_load_balancers")[1] == {"PageSize": 25, "Marker": "mark-2"}
    assert "gamma" in second.text
    # The API's only filter is a whole name; one that names nothing is an empty list.
    client.get("/console/load-balancers", params={"field": "name", "value": "alpha"})
    assert elb.asked("describe_load_balancers")[-1]["LoadBalancerNames"] == ["alpha"]
    none = client.get("/console/load-balancers", params={"field": "name", "value": "ghost"})
    assert none.status_code == 200 and "No load balancers match." in none.text


def test_a_load_balancer_is_created_with_its_listeners_and_deleted_after_asking(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    elb = _clouds(
        clients,
        {
            "create_load_balancer": {"DNSName": DNS},
            "delete_load_balancer": {},
            "describe_load_balancers": {"LoadBalancerDescriptions": []},
        },
    )
    csrf = sign_in(console, client)
    form = {
        "_csrf": csrf,
        "_back": "/load-balancers",
        "name": NAME,
        "zone:zone-a": "yes",
        "zone:zone-b": "yes",
        "protocol1": "HTTP",
        "lb_port1": "80",
        "instance_protocol1": "",
        "instance_port1": "8080",
        "certificate1": CERT,  # not for HTTP: left out
        "protocol2": "HTTPS",
        "lb_port2": "443",
        "instance_protocol2": "HTTP",
        "instance_port2": "8080",
        "certificate2": CERT,
        "protocol3": "TCP",
        "lb_port3": "",  # an unused row
        "instance_port3": "",
    }
    made = client.post("/console/load-balancers/create", data=form)
    assert made.status_code == 303 and made.headers["location"] == f"/console{HERE}"
    assert elb.asked("create_load_balancer") == [
        {
            "LoadBalancerName": NAME,
            "AvailabilityZones": ["zone-a", "zone-b"],
            "Listeners": [
                {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080},
                {
                    "Protocol": "HTTPS",
                    "LoadBalancerPort": 443,
                    "InstancePort": 8080,
                    "InstanceProtocol": "HTTP",
                    "SSLCertificateId": CERT,
                },
            ],
        }
    ]
    # What the console can tell is missing, it says before asking the API.
    for missing, reason in (
        ({"name": ""}, "give the load balancer&#39;s name"),
        ({"zone:zone-a": "", "zone:zone-b": ""}, "choose at least one availability zone"),
        ({"lb_port1": "", "lb_port2": ""}, "give at least one listener"),
        ({"instance_port1": "eighty"}, "the instance port must be a number"),
    ):
        answer = client.post("/console/load-balancers/create", data={**form, **missing})
        assert answer.headers["location"] == "/console/load-balancers"
        page = client.get("/console/load-balancers").text
        assert reason in page, reason
    assert len(elb.asked("create_load_balancer")) == 1
    # The API's refusal, in its words, by the create form.
    elb.answers["create_load_balancer"] = refused(
        "DuplicateLoadBalancerName", "Load balancer name 'web' is already in use"
    )
    client.post("/console/load-balancers/create", data=form)
    page = client.get("/console/load-balancers").text
    shown = "DuplicateLoadBalancerName: Load balancer name &#39;web&#39; is already in use"
    assert page.count(shown) == 1
    assert page.index(shown) > page.index('<h2 id="create">')

    delete = {"_csrf": csrf, "name": NAME, "_back": HERE}
    asked = client.post("/console/load-balancers/delete", data=delete)
    assert asked.status_code == 200 and f"Delete load balancer {NAME}?" in asked.text
    assert not elb.asked("delete_load_balancer")
    done = client.post("/console/load-balancers/delete", data={**delete, "confirmed": "yes"})
    # From its own page (gone now), to the list.
    assert done.headers["location"] == "/console/load-balancers"
    assert elb.asked("delete_load_balancer") == [{"LoadBalancerName": NAME}]


HEALTH = {
    "InstanceStates": [
        {
            "InstanceId": "i-00000001",
            "State": "InService",
            "ReasonCode": "N/A",
            "Description": "N/A",
        },
        {
            "InstanceId": "i-00000002",
            "State": "OutOfService",
            "ReasonCode": "Instance",
            "Description": (
                "Instance has failed at least the UnhealthyThreshold number of health checks "
                "consecutively."
            ),
        },
    ]
}
ATTRIBUTES = {
    "LoadBalancerAttributes": {
        "CrossZoneLoadBalancing": {"Enabled": True},
        "ConnectionDraining": {"Enabled": True, "Timeout": 120},
        "ConnectionSettings": {"IdleTimeout": 75},
        "AccessLog": {"Enabled": False},
    }
}


def _detail_elb(**changes: Any) -> dict[str, Any]:
    sticky = {
        "LBCookieStickinessPolicies": [{"PolicyName": "sticky", "CookieExpirationPeriod": 60}],
        "AppCookieStickinessPolicies": [{"PolicyName": "app", "CookieName": "SESSION"}],
        "OtherPolicies": ["tls"],
    }
    lb = _lb(NAME, Policies=sticky)
    lb["ListenerDescriptions"][0]["PolicyNames"] = ["tls", "app"]
    return {
        "describe_load_balancers": {"LoadBalancerDescriptions": [lb]},
        "describe_instance_health": HEALTH,
        "describe_load_balancer_attributes": ATTRIBUTES,
        "describe_tags": {
            "TagDescriptions": [
                {"LoadBalancerName": NAME, "Tags": [{"Key": "env", "Value": "lab"}]}
            ]
        },
        **changes,
    }


def test_a_load_balancers_page_shows_what_the_api_says(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    elb = _clouds(clients, _detail_elb())
    sign_in(console, client)
    page = client.get("/console" + HERE)
    assert page.status_code == 200
    text = page.text
    assert f"<h1>Load balancer {NAME}</h1>" in text
    assert '<dd id="dns-name">web-0a1b2c3d.eucalyptus.elb.cloud.internal</dd>' in text
    assert elb.asked("describe_load_balancers") == [{"LoadBalancerNames": [NAME]}]
    assert elb.asked("describe_instance_health") == [{"LoadBalancerName": NAME}]
    # Listeners with their policies; the stickiness one chosen in its form.
    row = text[text.index('id="listener-80"') :]
    row = row[: row.index("</tr>")]
    assert "tls, app" in row and '<option value="app" selected>' in row
    # The health check as it is, in its form to change it.
    assert '<option value="HTTP" selected>' in text
    assert 'name="port" value="8080"' in text and 'name="path" value="/health"' in text
    # Each instance's health in AWS's words, polled while any is registered.
    for h in HEALTH["InstanceStates"]:
        row = text[text.index(f'id="row-{h["InstanceId"]}"') :]
        row = row[: row.index("</tr>")]
        assert all(html.escape(h[k]) in row for k in ("State", "ReasonCode", "Description"))
    assert 'hx-get="/console/load-balancers/health?name=web" hx-trigger="every 5s"' in text
    # Only running instances not yet registered are offered.
    ec2 = clients["ec2"]
    assert ec2.asked("describe_instances") == [
        {"Filters": [{"Name": "instance-state-name", "Values": ["running"]}]}
    ]
    assert 'name="instance:i-00000003"' in text and 'name="instance:i-00000001"' not in text
    # Attributes, stickiness policies, tags.
    assert 'name="cross_zone" value="yes" checked' in text
    assert (
        'name="draining_timeout" value="120"' in text and 'name="idle_timeout" value="75"' in text
    )
    assert "expires after 60 s" in text and "follows the cookie SESSION" in text
    assert "<td>env</td><td>lab</td>" in text

    rows = client.get(
        "/console/load-balancers/health", params={"name": NAME}, headers={"hx-request": "true"}
    )
    assert rows.text.lstrip().startswith('<tbody id="health-rows"') and "<html" not in rows.text
    # With none registered, the rows stop asking.
    elb.answers["describe_instance_health"] = {"InstanceStates": []}
    rows = client.get("/console/load-balancers/health", params={"name": NAME})
    assert "hx-get" not in rows.text and "No instances registered." in rows.text
    # One that is not there: the API's words.
    elb.answers["describe_load_balancers"] = refused(
        "LoadBalancerNotFound", "There is no ACTIVE Load Balancer named 'gone'"
    )
    gone = client.get("/console/load-balancers/detail", params={"name": "gone"})
    assert gone.status_code == 400
    assert (
        "LoadBalancerNotFound: There is no ACTIVE Load Balancer named &#39;gone&#39;" in gone.text
    )


def _post(client: TestClient, csrf: str, action: str, **fields: str) -> Any:
    return client.post(
        "/console/load-balancers" + action,
        data={"_csrf": csrf, "name": NAME, "_back": HERE, **fields},
    )


def test_the_forms_on_its_page_ask_the_api(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    elb = _clouds(clients, _detail_elb())
    csrf = sign_in(console, client)
    home = f"/console{HERE}"

    answer = _post(
        client,
        csrf,
        "/listeners/create",
        protocol="SSL",
        lb_port="443",
        instance_port="22",
        instance_protocol="TCP",
        certificate=CERT,
    )
    assert answer.headers["location"] == home
    assert elb.asked("create_load_balancer_listeners") == [
        {
            "LoadBalancerName": NAME,
            "Listeners": [
                {
                    "Protocol": "SSL",
                    "LoadBalancerPort": 443,
                    "InstancePort": 22,
                    "InstanceProtocol": "TCP",
                    "SSLCertificateId": CERT,
                }
            ],
        }
    ]
    assert _post(client, csrf, "/listeners/delete", port="22").status_code == 200
    _post(client, csrf, "/listeners/delete", port="22", confirmed="yes")
    assert elb.asked("delete_load_balancer_listeners") == [
        {"LoadBalancerName": NAME, "LoadBalancerPorts": [22]}
    ]

    _post(
        client,
        csrf,
        "/health-check",
        protocol="HTTP",
        port="80",
        path="status",
        interval="10",
        timeout="3",
        unhealthy="3",
        healthy="2",
    )
    _post(
        client,
        csrf,
        "/health-check",
        protocol="TCP",
        port="22",
        path="",
        interval="10",
        timeout="3",
        unhealthy="3",
        healthy="2",
    )
    assert [a["HealthCheck"]["Target"] for a in elb.asked("configure_health_check")] == [
        "HTTP:80/status",
        "TCP:22",
    ]
    assert elb.asked("configure_health_check")[0]["HealthCheck"] == {
        "Target": "HTTP:80/status",
        "Interval": 10,
        "Timeout": 3,
        "UnhealthyThreshold": 3,
        "HealthyThreshold": 2,
    }

    fields = {"instance:i-00000003": "yes", "instance:i-00000004": "yes"}
    _post(client, csrf, "/instances/register", **fields)
    assert elb.asked("register_instances_with_load_balancer") == [
        {
            "LoadBalancerName": NAME,
            "Instances": [{"InstanceId": "i-00000003"}, {"InstanceId": "i-00000004"}],
        }
    ]
    assert _post(client, csrf, "/instances/deregister", instance="i-00000001").status_code == 200
    _post(client, csrf, "/instances/deregister", instance="i-00000001", confirmed="yes")
    assert elb.asked("deregister_instances_from_load_balancer") == [
        {"LoadBalancerName": NAME, "Instances": [{"InstanceId": "i-00000001"}]}
    ]

    _post(client, csrf, "/attributes", draining="yes", draining_timeout="30", idle_timeout="90")
    assert elb.asked("modify_load_balancer_attributes") == [
        {
            "LoadBalancerName": NAME,
            "LoadBalancerAttributes": {
                "CrossZoneLoadBalancing": {"Enabled": False},
                "ConnectionDraining": {"Enabled": True, "Timeout": 30},
                "ConnectionSettings": {"IdleTimeout": 90},
            },
        }
    ]

    _post(client, csrf, "/policies/create", policy="short", expiration="30")
    _post(client, csrf, "/policies/create", policy="session", expiration="")
    assert elb.asked("create_lb_cookie_stickiness_policy") == [
        {"LoadBalancerName": NAME, "PolicyName": "short", "CookieExpirationPeriod": 30},
        {"LoadBalancerName": NAME, "PolicyName": "session"},
    ]
    # Setting the listener's stickiness keeps its other policies and replaces the sticky one.
    _post(client, csrf, "/listeners/stickiness", port="80", policy="sticky")
    _post(client, csrf, "/listeners/stickiness", port="80", policy="")
    assert elb.asked("set_load_balancer_policies_of_listener") == [
        {"LoadBalancerName": NAME, "LoadBalancerPort": 80, "PolicyNames": ["tls", "sticky"]},
        {"LoadBalancerName": NAME, "LoadBalancerPort": 80, "PolicyNames": ["tls"]},
    ]
    _post(client, csrf, "/policies/delete", policy="sticky", confirmed="yes")
    assert elb.asked("delete_load_balancer_policy") == [
        {"LoadBalancerName": NAME, "PolicyName": "sticky"}
    ]

    _post(client, csrf, "/tags", key="team", value="web")
    _post(client, csrf, "/tags/delete", key="env", confirmed="yes")
    assert elb.asked("add_tags") == [
        {"LoadBalancerNames": [NAME], "Tags": [{"Key": "team", "Value": "web"}]}
    ]
    assert elb.asked("remove_tags") == [{"LoadBalancerNames": [NAME], "Tags": [{"Key": "env"}]}]

    # A refusal comes back to the page, by the form it came from, in the API's words.
    elb.answers["configure_health_check"] = refused(
        "ValidationError", "HealthCheck Interval must be greater than the Timeout."
    )
    answer = _post(
        client,
        csrf,
        "/health-check",
        protocol="TCP",
        port="22",
        path="",
        interval="5",
        timeout="5",
        unhealthy="2",
        healthy="2",
    )
    assert answer.headers["location"] == home
    page = client.get(home).text
    shown = "ValidationError: HealthCheck Interval must be greater than the Timeout."
    assert page.count(shown) == 1
    assert (
        page.index('<h2 id="health-check">') < page.index(shown) < page.index('<h2 id="instances">')
    )
    elb.answers["register_instances_with_load_balancer"] = refused(
        "InvalidInstance", "EC2 instance i-00000004 is not in running state."
    )
    _post(client, csrf, "/instances/register", **fields)
    page = client.get(home).text
    assert "InvalidInstance: EC2 instance i-00000004 is not in running state." in page
    # What no form of the console sends is refused before the API is asked.
    before = len(elb.calls)
    assert _post(client, csrf, "/health-check", protocol="UDP", port="53").status_code == 303
    assert _post(client, csrf, "/instances/register").status_code == 303
    assert len(elb.calls) == before
