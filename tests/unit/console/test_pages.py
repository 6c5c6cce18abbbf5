"""Page handlers against a fake cloud: lists asked of the API a page at a time (and cut here
when the API answers whole), confirmations before destructive actions, errors next to their
form, administration by the rights the cloud reports at sign-in."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError
from starlette.testclient import TestClient

from mallee.config import Settings
from mallee.console.app import Console
from mallee.console.cloud import Credentials
from mallee.console.session import COOKIE, Session

pytestmark = pytest.mark.nodb


class Fake:
    """A botocore client that answers from `answers` and records what it was asked."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> Any:
            self.calls.append((operation, params))
            answer = self.answers.get(operation, {})
            if isinstance(answer, Exception):
                raise answer
            return answer(params) if callable(answer) else answer

        return call

    def can_paginate(self, operation: str) -> bool:
        return False

    def asked(self, operation: str) -> list[dict[str, Any]]:
        return [p for op, p in self.calls if op == operation]


def refused(code: str, message: str, status: int = 400) -> ClientError:
    error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}
    error["ResponseMetadata"]["HTTPStatusCode"] = status
    return ClientError(error, "Operation")  # type: ignore[arg-type]


def _instance(n: int, state: str = "running") -> dict[str, Any]:
    return {
        "InstanceId": f"i-{n:08x}",
        "State": {"Name": state},
        "InstanceType": "m1.small",
        "Tags": [{"Key": "Name", "Value": f"web-{n}"}],
    }


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


def sign_in(console: Console, client: TestClient, **fields: Any) -> str:
    session = Session(
        account="a", user="u", access_key="ASIAX", secret_key="s", expires=time.time() + 600
    )
    for name, value in fields.items():
        setattr(session, name, value)
    client.cookies.set(COOKIE, console.sealer().seal(session), path="/console/")
    return session.csrf


def links(page: str, rel: str) -> list[dict[str, list[str]]]:
    found = re.findall(rf'<a href="([^"]+)" rel="{rel}">', page)
    return [parse_qs(urlsplit(html.unescape(href)).query) for href in found]


def test_instances_are_asked_for_a_page_at_a_time(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    pages = {
        None: ([_instance(n) for n in range(3)], "tok-2"),
        "tok-2": ([_instance(n, "pending") for n in range(3, 5)], None),
    }

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        found, following = pages[params.get("NextToken")]
        answer: dict[str, Any] = {"Reservations": [{"Instances": found}]}
        if following:
            answer["NextToken"] = following
        return answer

    clients["ec2"] = ec2 = Fake({"describe_instances": describe})
    sign_in(console, client)
    first = client.get("/console/instances", params={"size": "25", "sort": "name", "dir": "desc"})
    assert first.status_code == 200
    # The API's own paging and filters: never everything at once.
    [asked] = ec2.asked("describe_instances")
    assert asked == {"MaxResults": 25, "Filters": []}
    # Sorted within the page, as asked (web-2, web-1, web-0).
    assert first.text.index("web-2") < first.text.index("web-1") < first.text.index("web-0")
    assert 'aria-sort="descending"' in first.text
    [following] = links(first.text, "next")
    assert following["page"] == ["tok-2"] and following["sort"] == ["name"]
    second = client.get("/console/instances", params={k: v[0] for k, v in following.items()})
    assert ec2.asked("describe_instances")[1]["NextToken"] == "tok-2"
    assert "web-4" in second.text and not links(second.text, "next")
    [back] = links(second.text, "prev")
    assert "page" not in back  # the first page again
    # An instance on its way to a state: the rows (this same page) are polled.
    assert 'hx-get="/console/instances/rows?' in second.text and "page=tok-2" in second.text


def test_an_instance_filter_is_the_api_s_own(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake({"describe_instances": {"Reservations": []}})
    sign_in(console, client)
    page = client.get("/console/instances", params={"field": "tag:Name", "value": "web"})
    assert "No instances match." in page.text
    client.get("/console/instances", params={"field": "instance-id", "value": "i-12*"})
    client.get("/console/instances", params={"field": "not-a-filter", "value": "x"})
    asked = [p["Filters"] for p in ec2.asked("describe_instances")]
    assert asked[0] == [{"Name": "tag:Name", "Values": ["*web*"]}]
    assert asked[1] == [{"Name": "instance-id", "Values": ["i-12*"]}]  # wildcards kept
    assert asked[2] == [{"Name": "tag:Name", "Values": ["*x*"]}]  # unknown: the first filter


def test_a_list_the_api_answers_whole_is_cut_here(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    pairs = [{"KeyName": f"key-{n:03d}", "KeyFingerprint": f"fp{n}"} for n in range(60)]
    clients["ec2"] = Fake({"describe_key_pairs": {"KeyPairs": pairs}})
    sign_in(console, client)
    first = client.get("/console/keypairs")
    assert "1-50 of 60" in first.text and "key-049" in first.text and "key-050" not in first.text
    [following] = links(first.text, "next")
    second = client.get("/console/keypairs", params={k: v[0] for k, v in following.items()})
    assert "51-60 of 60" in second.text and "key-059" in second.text
    assert "key-049" not in second.text
    found = client.get("/console/keypairs", params={"field": "name", "value": "KEY-00"})
    assert "1-10 of 10" in found.text
    backwards = client.get("/console/keypairs", params={"sort": "name", "dir": "desc"})
    assert backwards.text.index("key-059") < backwards.text.index("key-058")


def test_a_destructive_action_asks_first(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake({"terminate_instances": {}})
    csrf = sign_in(console, client)
    form = {"_csrf": csrf, "op": "terminate", "id": "i-0000abcd", "_back": "/instances?size=25"}
    asked = client.post("/console/instances/action", data=form)
    assert asked.status_code == 200 and "Terminate instance i-0000abcd?" in asked.text
    assert not ec2.calls
    # The confirming form posts the same fields again, with the answer; Cancel goes back.
    assert 'name="confirmed" value="yes"' in asked.text and 'value="i-0000abcd"' in asked.text
    assert 'href="/console/instances?size=25">Cancel' in asked.text
    done = client.post("/console/instances/action", data={**form, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/console/instances?size=25"
    assert ec2.asked("terminate_instances") == [{"InstanceIds": ["i-0000abcd"]}]


def test_back_goes_only_to_console_pages(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = Fake({"start_instances": {}})
    csrf = sign_in(console, client)
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        form = {"_csrf": csrf, "op": "start", "id": "i-1", "_back": elsewhere}
        answer = client.post("/console/instances/action", data=form)
        assert answer.headers["location"] == "/console/instances"


def test_an_error_shows_as_code_and_message_next_to_its_form(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    duplicate = refused("InvalidKeyPair.Duplicate", "The keypair 'k' already exists.")
    clients["ec2"] = Fake({"create_key_pair": duplicate, "describe_key_pairs": {"KeyPairs": []}})
    csrf = sign_in(console, client)
    answer = client.post("/console/keypairs/create", data={"_csrf": csrf, "name": "k"})
    assert answer.status_code == 303
    page = client.get("/console/keypairs").text
    shown = "InvalidKeyPair.Duplicate: The keypair &#39;k&#39; already exists."
    assert page.count(shown) == 1
    # Right before the form that failed, not at the top of the page.
    assert page.index(shown) > page.index("Create a key pair")
    assert page.index(shown) < page.index('action="/console/keypairs/create"')
    assert shown not in client.get("/console/keypairs").text  # shown once


def test_administration_is_by_the_rights_found_at_sign_in(
    console: Console, client: TestClient, clients: dict[str, Fake], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = Credentials("ASIAX", "s", "t", time.time() + 600)
    monkeypatch.setattr(console.cloud, "sign_in", lambda *args: keys)
    denied = refused("AccessDenied", "not an administrator", 403)
    clients["empyrean"] = Fake({"describe_available_service_types": denied})
    clients["iam"] = Fake({"list_users": {"Users": []}})
    clients["ec2"] = Fake({})
    clients["s3"] = Fake({})
    page = client.get("/console/login")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"_csrf": csrf.group(1), "account": "eucalyptus", "user": "u", "password": "p"}
    assert client.post("/console/login", data=form).status_code == 303
    # The account's name says eucalyptus, but the cloud said no: no administration.
    answer = client.get("/console/admin/services")
    assert answer.status_code == 403 and "Only the cloud administrator" in answer.text
    clients["empyrean"] = Fake(
        {"describe_available_service_types": {}, "describe_services": {"ServiceStatuses": []}}
    )
    other = TestClient(console, follow_redirects=False)
    page = other.get("/console/login")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"_csrf": csrf.group(1), "account": "ops", "user": "u", "password": "p"}
    other.post("/console/login", data=form)
    answer = other.get("/console/admin/services")
    assert answer.status_code == 200 and 'href="/console/admin/nodes"' in answer.text
    assert 'href="/console/iam/users"' in answer.text


def test_node_maintenance_asks_then_disables(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["empyrean"] = empyrean = Fake({"modify_service": {"Return": True}})
    csrf = sign_in(console, client, admin=True)
    form = {"_csrf": csrf, "name": "node-1", "state": "DISABLED"}
    assert "maintenance" in client.post("/console/admin/nodes/state", data=form).text
    assert not empyrean.calls
    client.post("/console/admin/nodes/state", data={**form, "confirmed": "yes"})
    assert empyrean.asked("modify_service") == [{"Name": "node-1", "State": "DISABLED"}]
    bad = client.post("/console/admin/nodes/state", data={**form, "state": "GONE"})
    assert bad.status_code == 303  # back to the page, with the reason by its form


def test_versions_page_carries_both_markers(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    def versions(params: dict[str, Any]) -> dict[str, Any]:
        if "KeyMarker" not in params:
            return {
                "Versions": [{"Key": "a", "VersionId": "v1", "IsLatest": True, "Size": 1}],
                "IsTruncated": True,
                "NextKeyMarker": "a",
                "NextVersionIdMarker": "v1",
            }
        return {"DeleteMarkers": [{"Key": "b", "VersionId": "v2"}], "IsTruncated": False}

    clients["s3"] = s3 = Fake(
        {
            "list_object_versions": versions,
            "get_bucket_versioning": {"Status": "Enabled"},
            "get_bucket_acl": {
                "Owner": {"DisplayName": "me"},
                "Grants": [{"Grantee": {"DisplayName": "me"}, "Permission": "FULL_CONTROL"}],
            },
            "get_bucket_policy": refused("NoSuchBucketPolicy", "none", 404),
        }
    )
    sign_in(console, client)
    first = client.get("/console/buckets/detail", params={"bucket": "b1"})
    assert "Versioning: Enabled" in first.text and "FULL_CONTROL" in first.text
    assert "No bucket policy." in first.text
    [following] = links(first.text, "next")
    second = client.get("/console/buckets/detail", params={k: v[0] for k, v in following.items()})
    assert "(delete marker)" in second.text
    last = s3.asked("list_object_versions")[-1]
    assert (last["KeyMarker"], last["VersionIdMarker"]) == ("a", "v1")


SAMPLE = {
    "describe_instances": {"Reservations": [{"Instances": [_instance(1)]}]},
    "describe_images": {
        "Images": [{"ImageId": "emi-1", "ImageType": "machine", "State": "available"}]
    },
    "describe_security_groups": {
        "SecurityGroups": [
            {
                "GroupId": "sg-1",
                "GroupName": "web",
                "IpPermissions": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
                "IpPermissionsEgress": [
                    {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                ],
            }
        ]
    },
    "describe_addresses": {"Addresses": [{"PublicIp": "203.0.113.5"}]},
    "list_buckets": {"Buckets": [{"Name": "b1"}]},
    "list_objects_v2": {
        "Contents": [{"Key": "k", "Size": 1}],
        "CommonPrefixes": [{"Prefix": "d/"}],
    },
    "describe_services": {
        "ServiceStatuses": [{"ServiceId": {"Type": "node", "Name": "n1"}, "LocalState": "ENABLED"}]
    },
    "describe_properties": {"Properties": [{"Name": "cloud.x", "Value": "1"}]},
    "list_accounts": {"Accounts": [{"AccountName": "eucalyptus", "AccountId": "1"}]},
    "describe_instance_types": {"InstanceTypes": [{"InstanceType": "m1.small"}]},
    "list_users": {"Users": [{"UserName": "u1"}]},
    "list_groups": {"Groups": [{"GroupName": "g1"}]},
    "list_roles": {"Roles": [{"RoleName": "r1"}]},
    "list_policies": {"Policies": [{"PolicyName": "p1", "Arn": "arn:p1"}]},
    "get_user": {"User": {"UserName": "u1"}},
    "get_group": {"Group": {"GroupName": "g1"}, "Users": [{"UserName": "u1"}]},
    "get_role": {"Role": {"RoleName": "r1", "AssumeRolePolicyDocument": "%7B%7D"}},
    "get_policy": {"Policy": {"PolicyName": "p1", "DefaultVersionId": "v1"}},
    "get_policy_version": {"PolicyVersion": {"Document": "{}"}},
    "list_user_policies": {"PolicyNames": ["inline"]},
    "get_user_policy": {"PolicyDocument": "%7B%22a%22%3A1%7D"},
    "get_login_profile": {"LoginProfile": {"CreateDate": "today"}},
    "get_bucket_policy": {"Policy": '{"Version": "2012-10-17"}'},
}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/instances/launch",
        "/instances/detail?id=i-1",
        "/images",
        "/images/detail?id=emi-1",
        "/security-groups",
        "/security-groups/detail?id=sg-1",
        "/addresses",
        "/buckets",
        "/buckets/objects?bucket=b1",
        "/buckets/detail?bucket=b1",
        "/admin/services",
        "/admin/nodes",
        "/admin/properties?field=prefix&value=cloud.",
        "/admin/accounts",
        "/admin/instance-types",
        "/iam/users",
        "/iam/groups",
        "/iam/roles",
        "/iam/policies",
        "/iam/user?name=u1",
        "/iam/group?name=g1",
        "/iam/role?name=r1",
        "/iam/policy?arn=arn:p1",
    ],
)
def test_every_page_draws(
    console: Console, client: TestClient, clients: dict[str, Fake], path: str
) -> None:
    for service in ("ec2", "s3", "iam", "empyrean"):
        clients[service] = Fake(SAMPLE)
    sign_in(console, client, admin=True, iam_admin=True)
    page = client.get("/console" + path)
    assert page.status_code == 200, page.text
    assert "<main>" in page.text and "Traceback" not in page.text


def test_a_session_the_api_no_longer_takes_is_refused_with_the_reason(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    """Signed out elsewhere, revoked, or a cookie copied before either and replayed: the API
    refuses its credentials, and the page says so (403) with the sign-in form; the htmx poll
    is sent to the sign-in page instead of drawing it inside the list."""
    clients["ec2"] = Fake(
        {"describe_instances": refused("InvalidClientTokenId", "The token is revoked", 403)}
    )
    sign_in(console, client)
    page = client.get("/console/instances")
    assert page.status_code == 403
    assert "Your session has ended" in page.text and "InvalidClientTokenId" in page.text
    assert 'name="password"' in page.text
    sign_in(console, client)
    poll = client.get("/console/instances/rows", headers={"hx-request": "true"})
    assert poll.headers.get("hx-redirect") == "/console/login"


def _volume(n: int, state: str = "available", attached: str = "") -> dict[str, Any]:
    volume: dict[str, Any] = {
        "VolumeId": f"vol-{n:08x}",
        "Size": n + 1,
        "AvailabilityZone": "zone-a",
        "State": state,
        "CreateTime": "2026-01-01T00:00:00Z",
        "Attachments": [],
    }
    if attached:
        volume["Attachments"] = [
            {"InstanceId": "i-0000beef", "Device": "/dev/sdf", "State": attached}
        ]
    return volume


ZONES = {"AvailabilityZones": [{"ZoneName": "zone-a", "State": "available"}]}


def test_volumes_are_asked_for_a_page_at_a_time(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    pages = {
        None: ([_volume(n) for n in range(3)], "tok-2"),
        "tok-2": ([_volume(3, "in-use", "attaching"), _volume(4, "in-use", "attached")], None),
    }

    def describe(params: dict[str, Any]) -> dict[str, Any]:
        found, following = pages[params.get("NextToken")]
        return {"Volumes": found, **({"NextToken": following} if following else {})}

    clients["ec2"] = ec2 = Fake(
        {"describe_volumes": describe, "describe_availability_zones": ZONES}
    )
    sign_in(console, client)
    first = client.get("/console/volumes", params={"size": "25", "sort": "size", "dir": "desc"})
    assert first.status_code == 200
    [asked] = ec2.asked("describe_volumes")
    assert asked == {"MaxResults": 25, "Filters": []}
    assert first.text.index("vol-00000002") < first.text.index("vol-00000000")
    # Nothing changing: no polling. The zone to create in is the API's own.
    assert "hx-get" not in first.text and '<option value="zone-a"' in first.text
    assert 'href="/console/volumes"' in first.text and 'href="/console/snapshots"' in first.text
    [following] = links(first.text, "next")
    second = client.get("/console/volumes", params={k: v[0] for k, v in following.items()})
    assert ec2.asked("describe_volumes")[1]["NextToken"] == "tok-2"
    # The attached volume: its instance and device, and detach (not delete) offered.
    assert "i-0000beef" in second.text and "/dev/sdf" in second.text
    assert 'action="/console/volumes/detach"' in second.text
    assert 'action="/console/volumes/delete"' not in second.text
    # One still attaching: this page's rows are polled, and say what they are doing.
    assert 'hx-get="/console/volumes/rows?' in second.text and "page=tok-2" in second.text
    assert ">attaching<" in second.text
    rows = client.get(
        "/console/volumes/rows", params={"page": "tok-2"}, headers={"hx-request": "true"}
    )
    assert rows.text.lstrip().startswith("<tbody") and "vol-00000003" in rows.text
    filtered = client.get("/console/volumes", params={"field": "status", "value": "in-use"})
    assert filtered.status_code == 200
    assert ec2.asked("describe_volumes")[-1]["Filters"] == [
        {"Name": "status", "Values": ["*in-use*"]}
    ]


def test_a_volume_is_created_attached_snapshotted_and_deleted_after_asking(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = ec2 = Fake(
        {
            "create_volume": {"VolumeId": "vol-0000000a"},
            "attach_volume": {},
            "detach_volume": {},
            "create_snapshot": {"SnapshotId": "snap-0000000b"},
            "delete_volume": {},
        }
    )
    csrf = sign_in(console, client)
    made = client.post("/console/volumes/create", data={"_csrf": csrf, "size": "2", "zone": "z"})
    assert made.status_code == 303 and made.headers["location"] == "/console/volumes"
    client.post(
        "/console/volumes/create",
        data={"_csrf": csrf, "size": "", "zone": "z", "snapshot": "snap-0000000b"},
    )
    assert ec2.asked("create_volume") == [
        {"AvailabilityZone": "z", "Size": 2},
        {"AvailabilityZone": "z", "SnapshotId": "snap-0000000b"},
    ]
    base = {"_csrf": csrf, "id": "vol-0000000a", "_back": "/volumes?size=25"}
    client.post("/console/volumes/attach", data={**base, "instance": "i-1", "device": ""})
    assert ec2.asked("attach_volume") == [
        {"VolumeId": "vol-0000000a", "InstanceId": "i-1", "Device": "/dev/sdf"}
    ]
    client.post("/console/volumes/snapshot", data={**base, "description": "nightly"})
    assert ec2.asked("create_snapshot") == [{"VolumeId": "vol-0000000a", "Description": "nightly"}]
    for op in ("detach", "delete"):
        asked = client.post(f"/console/volumes/{op}", data=base)
        assert asked.status_code == 200 and f"{op.title()} volume vol-0000000a?" in asked.text
        assert not ec2.asked(f"{op}_volume")
        assert 'href="/console/volumes?size=25">Cancel' in asked.text
        done = client.post(f"/console/volumes/{op}", data={**base, "confirmed": "yes"})
        assert done.status_code == 303 and done.headers["location"] == "/console/volumes?size=25"
        assert ec2.asked(f"{op}_volume") == [{"VolumeId": "vol-0000000a"}]
    # Without the form's token nothing is done.
    forged = client.post("/console/volumes/delete", data={"id": "vol-1", "confirmed": "yes"})
    assert forged.status_code == 403 and len(ec2.asked("delete_volume")) == 1


def test_a_volume_error_shows_next_to_its_form(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    limit = refused("VolumeLimitExceeded", "You have reached the volume limit.")
    clients["ec2"] = ec2 = Fake(
        {
            "create_volume": limit,
            "describe_volumes": {"Volumes": []},
            "describe_availability_zones": ZONES,
        }
    )
    csrf = sign_in(console, client)
    client.post("/console/volumes/create", data={"_csrf": csrf, "size": "1", "zone": "zone-a"})
    page = client.get("/console/volumes").text
    shown = "VolumeLimitExceeded: You have reached the volume limit."
    assert page.count(shown) == 1
    assert page.index("Create a volume") < page.index(shown)
    assert page.index(shown) < page.index('action="/console/volumes/create"')
    # What no form sends is refused before the API is asked, beside the same form.
    for size in ("", "x", "0", "20000"):
        client.post("/console/volumes/create", data={"_csrf": csrf, "size": size, "zone": "z"})
        assert "form-error" in client.get("/console/volumes").text
    assert len(ec2.asked("create_volume")) == 1


def test_own_snapshots_a_page_at_a_time_with_progress(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    snaps = [
        {
            "SnapshotId": "snap-00000001",
            "VolumeId": "vol-00000001",
            "VolumeSize": 1,
            "State": "pending",
            "Progress": "40%",
            "Description": "<b>nightly</b>",
            "StartTime": "2026-01-01T00:00:00Z",
        },
        {
            "SnapshotId": "snap-00000002",
            "VolumeId": "vol-00000001",
            "VolumeSize": 1,
            "State": "completed",
            "Progress": "100%",
            "Description": "",
            "StartTime": "2026-01-01T00:00:00Z",
        },
    ]
    clients["ec2"] = ec2 = Fake(
        {"describe_snapshots": {"Snapshots": snaps, "NextToken": "t2"}, "delete_snapshot": {}}
    )
    csrf = sign_in(console, client)
    page = client.get("/console/snapshots", params={"size": "25"}).text
    assert ec2.asked("describe_snapshots") == [
        {"OwnerIds": ["self"], "MaxResults": 25, "Filters": []}
    ]
    assert "pending</span> (40%)" in page and "&lt;b&gt;nightly&lt;/b&gt;" in page
    assert 'hx-get="/console/snapshots/rows?' in page
    # A completed one makes a volume on the volumes page's form, the snapshot filled in.
    assert 'href="/console/volumes?snapshot=snap-00000002#create"' in page
    [following] = links(page, "next")
    assert following["page"] == ["t2"]
    form = {"_csrf": csrf, "id": "snap-00000001"}
    asked = client.post("/console/snapshots/delete", data=form)
    assert "Delete snapshot snap-00000001?" in asked.text and not ec2.asked("delete_snapshot")
    in_use = refused("InvalidSnapshot.InUse", "The snapshot is in use by ami-1.")
    ec2.answers["delete_snapshot"] = in_use
    client.post("/console/snapshots/delete", data={**form, "confirmed": "yes"})
    assert ec2.asked("delete_snapshot") == [{"SnapshotId": "snap-00000001"}]
    page = client.get("/console/snapshots").text
    shown = "InvalidSnapshot.InUse: The snapshot is in use by ami-1."
    assert page.count(shown) == 1 and page.index(shown) < page.index("<table>")


def test_a_volume_form_filled_from_a_snapshot(
    console: Console, client: TestClient, clients: dict[str, Fake]
) -> None:
    clients["ec2"] = Fake(
        {"describe_volumes": {"Volumes": []}, "describe_availability_zones": ZONES}
    )
    sign_in(console, client)
    page = client.get("/console/volumes", params={"snapshot": "snap-00000002"}).text
    assert 'name="snapshot" value="snap-00000002"' in page
