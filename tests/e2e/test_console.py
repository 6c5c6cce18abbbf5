"""The web console at /console/ on its own port, driven like a browser (urllib + a cookie jar)
against a live cloud; every outcome is checked through boto3, as the API sees it."""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from mallee.api.models.client import mallee_client
from tests.e2e.conftest import REGION, Cloud

pytestmark = pytest.mark.e2e

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass
class Answer:
    status: int
    url: str
    text: str

    def csrf(self) -> str:
        found = re.search(r'name="_csrf" value="([^"]+)"', self.text)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def errors(self) -> list[str]:
        found = re.findall(r'<div class="flash error[^"]*"[^>]*>([^<]*)</div>', self.text)
        return [html.unescape(text) for text in found]


class Browser:
    """Follows redirects and keeps cookies, as a browser does; never raises on 4xx/5xx."""

    def __init__(self, origin: str) -> None:
        self.base = origin + "/console"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.last: Answer | None = None

    def open(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=60) as r:
                answer = Answer(r.status, r.url, r.read().decode())
        except urllib.error.HTTPError as failed:
            answer = Answer(failed.code, failed.url, failed.read().decode())
        assert "Traceback" not in answer.text
        self.last = answer
        return answer

    def get(self, path: str, **params: str) -> Answer:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        return self.open(urllib.request.Request(self.base + path + query))

    def raw(self, path: str, **params: str) -> bytes:
        query = "?" + urllib.parse.urlencode(params)
        with self.opener.open(self.base + path + query, timeout=60) as r:
            data: bytes = r.read()
            return data

    def post(self, path: str, csrf: bool = True, **form: str) -> Answer:
        if csrf:
            assert self.last is not None
            form = {"_csrf": self.last.csrf(), **form}
        body = urllib.parse.urlencode(form).encode()
        return self.open(urllib.request.Request(self.base + path, data=body, method="POST"))

    def upload(self, path: str, fields: dict[str, str], name: str, data: bytes) -> Answer:
        assert self.last is not None
        boundary = "----mallee" + uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in {"_csrf": self.last.csrf(), **fields}.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        return self.open(request)

    def login(self, account: str, user: str, password: str) -> Answer:
        self.get("/login")
        return self.post("/login", account=account, user=user, password=password)


@dataclass
class Login:
    account: str
    user: str
    password: str
    access_key: str
    secret_key: str


def _iam(cloud: Cloud, access_key: str, secret_key: str) -> Any:
    return mallee_client(
        "iam",
        cloud.endpoint + "/services/Euare",
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )


def _user_with_password(iam: Any, account: str) -> tuple[str, str]:
    name = f"web-{uuid.uuid4().hex[:6]}"
    password = f"Pw-{uuid.uuid4().hex}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
    iam.create_login_profile(UserName=name, Password=password)
    return name, password


@pytest.fixture(scope="module")
def member(cloud: Cloud) -> Login:
    """A user (with a console password) of a new, ordinary account."""
    admin = _iam(cloud, cloud.admin.access_key, cloud.admin.secret_key)
    account = f"web{uuid.uuid4().hex[:8]}"
    admin.create_account(AccountName=account)
    key = admin.create_access_key(DelegateAccount=account)["AccessKey"]
    iam = _iam(cloud, key["AccessKeyId"], key["SecretAccessKey"])
    user, password = _user_with_password(iam, account)
    return Login(account, user, password, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture
def browser(cloud: Cloud, member: Login) -> Browser:
    b = Browser(cloud.console)
    answer = b.login(member.account, member.user, member.password)
    assert answer.status == 200 and answer.url.endswith("/console/"), answer.errors()
    return b


def _ec2(cloud: Cloud, who: Login) -> Any:
    return cloud.client("ec2", who.access_key, who.secret_key)


def test_wrong_password_is_refused(cloud: Cloud, member: Login) -> None:
    b = Browser(cloud.console)
    answer = b.login(member.account, member.user, "not-the-password")
    assert answer.status == 403
    assert answer.errors() == ["AccessDenied: Invalid account name, user name or password."]
    # Still signed out: a page sends the browser back to the sign-in form.
    assert b.get("/instances").url.endswith("/console/login")


def test_dashboard_and_sign_out(browser: Browser, member: Login) -> None:
    page = browser.get("/")
    assert f"{member.user}@{member.account}" in page.text
    assert "Instances by state" in page.text and REGION in page.text
    # An ordinary account sees no administration.
    assert "/console/admin/services" not in page.text
    assert browser.get("/admin/services").status == 403
    out = browser.post("/logout")
    assert out.url.endswith("/console/login") and "Signed out." in out.text
    assert browser.get("/").url.endswith("/console/login")


def test_key_pairs(cloud: Cloud, browser: Browser, member: Login) -> None:
    name = f"key-{uuid.uuid4().hex[:6]}"
    browser.get("/keypairs")
    made = browser.post("/keypairs/create", name=name)
    assert "BEGIN RSA PRIVATE KEY" in made.text or "PRIVATE KEY" in made.text
    assert f'download="{name}.pem"' in made.text
    ec2 = _ec2(cloud, member)
    assert [k["KeyName"] for k in ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]] == [name]
    again = browser.post("/keypairs/create", name=name)
    assert again.errors() == [f"InvalidKeyPair.Duplicate: The keypair '{name}' already exists."]
    # A destructive action asks first, on a page of its own, and does nothing until confirmed.
    asked = browser.post("/keypairs/delete", name=name)
    assert "Are you sure?" in asked.text and f"Delete the key pair {name}?" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert [k["KeyName"] for k in ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]] == [name]
    browser.post("/keypairs/delete", name=name, confirmed="yes")
    assert name not in [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]


def test_security_group_rules(cloud: Cloud, browser: Browser, member: Login) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    browser.get("/security-groups")
    browser.post("/security-groups/create", name=name, description="from the console")
    ec2 = _ec2(cloud, member)
    group = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"][0]
    page = browser.post(
        "/security-groups/authorize",
        group=group["GroupId"],
        protocol="tcp",
        **{"from": "8080", "to": "8081", "cidr": "10.1.0.0/16"},
    )
    assert not page.errors() and "8080-8081" in page.text
    rules = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    [rule] = rules["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 8080, 8081)
    assert rule["IpRanges"][0]["CidrIp"] == "10.1.0.0/16"
    # Egress, on the group's own page.
    page = browser.post(
        "/security-groups/authorize",
        group=group["GroupId"],
        direction="egress",
        protocol="tcp",
        **{"from": "5432", "to": "5432", "cidr": "10.2.0.0/16"},
    )
    assert (
        not page.errors() and "Outbound rules (egress)" in page.text and "10.2.0.0/16" in page.text
    )
    found = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    assert any(
        r.get("FromPort") == 5432 and r["IpRanges"][0]["CidrIp"] == "10.2.0.0/16"
        for r in found["IpPermissionsEgress"]
    )
    browser.post(
        "/security-groups/revoke",
        group=group["GroupId"],
        direction="egress",
        protocol="tcp",
        confirmed="yes",
        **{"from": "5432", "to": "5432", "cidr": "10.2.0.0/16"},
    )
    found = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    assert not any(r.get("FromPort") == 5432 for r in found["IpPermissionsEgress"])
    browser.post(
        "/security-groups/revoke",
        group=group["GroupId"],
        protocol="tcp",
        confirmed="yes",
        **{"from": "8080", "to": "8081", "cidr": "10.1.0.0/16"},
    )
    rules = ec2.describe_security_groups(GroupIds=[group["GroupId"]])["SecurityGroups"][0]
    assert rules["IpPermissions"] == []
    browser.post("/security-groups/delete", group=group["GroupId"], confirmed="yes")
    assert name not in [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]


def _wait_state(ec2: Any, instance_id: str, states: set[str]) -> str:
    deadline = time.monotonic() + 60
    while True:
        [r] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        state = str(r["Instances"][0]["State"]["Name"])
        if state in states or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def test_launch_list_terminate(cloud: Cloud, browser: Browser, member: Login) -> None:
    ec2 = _ec2(cloud, member)
    machine = [{"Name": "image-type", "Values": ["machine"]}]
    emi = ec2.describe_images(Filters=machine)["Images"][0]["ImageId"]
    browser.get("/instances")
    name = "<script>alert('x')</script>"
    page = browser.post(
        "/instances/launch", image=emi, type="m1.small", count="1", name=name, user_data="hi"
    )
    [launched] = re.findall(r"Launched (i-[0-9a-f]+)", page.text)
    [r] = ec2.describe_instances(InstanceIds=[launched])["Reservations"]
    assert r["Instances"][0]["Tags"] == [{"Key": "Name", "Value": name}]
    # The tag shows, escaped: never as markup.
    listing = browser.get("/instances").text
    assert launched in listing and name not in listing
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in listing
    # Filtered by the API (the Name tag), and its details with the tags to edit.
    found = browser.get("/instances", field="tag:Name", value="alert").text
    assert launched in found
    assert launched not in browser.get("/instances", field="tag:Name", value="nothing-so").text
    detail = browser.get("/instances/detail", id=launched)
    assert detail.status == 200 and "Add or change a tag" in detail.text
    page = browser.post("/instances/tags", id=launched, key="team", value="web")
    assert not page.errors() and "team" in page.text
    tags = ec2.describe_instances(InstanceIds=[launched])["Reservations"][0]["Instances"][0]
    assert {"Key": "team", "Value": "web"} in tags["Tags"]
    browser.post("/instances/tags/delete", id=launched, key="team", confirmed="yes")
    tags = ec2.describe_instances(InstanceIds=[launched])["Reservations"][0]["Instances"][0]
    assert {"Key": "team", "Value": "web"} not in tags["Tags"]
    assert _wait_state(ec2, launched, {"running"}) == "running"
    asked = browser.post("/instances/action", op="terminate", id=launched)
    assert f"Terminate instance {launched}?" in asked.text
    assert _wait_state(ec2, launched, {"running"}) == "running"
    page = browser.post("/instances/action", op="terminate", id=launched, confirmed="yes")
    assert not page.errors()
    assert _wait_state(ec2, launched, {"shutting-down", "terminated"}) in (
        "shutting-down",
        "terminated",
    )


def test_buckets_upload_download(cloud: Cloud, browser: Browser, member: Login) -> None:
    s3 = cloud.client("s3", member.access_key, member.secret_key)
    bucket = f"web-{uuid.uuid4().hex[:8]}"
    browser.get("/buckets")
    browser.post("/buckets/create", bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    data = bytes(range(256)) * 4096 + b"\r\n--tail\r\n"
    browser.get("/buckets/objects", bucket=bucket)
    page = browser.upload("/buckets/upload", {"bucket": bucket, "prefix": "dir/"}, "f.bin", data)
    assert not page.errors() and "Uploaded dir/f.bin" in page.text
    assert s3.get_object(Bucket=bucket, Key="dir/f.bin")["Body"].read() == data
    listing = browser.get("/buckets/objects", bucket=bucket)
    assert "dir/" in listing.text and "f.bin" not in listing.text  # one level at a time
    assert "dir/f.bin" in browser.get("/buckets/objects", bucket=bucket, prefix="dir/").text
    assert browser.raw("/buckets/download", bucket=bucket, key="dir/f.bin") == data
    detail = browser.get("/buckets/detail", bucket=bucket)
    assert "Versioning: never enabled" in detail.text and "FULL_CONTROL" in detail.text
    assert "No bucket policy." in detail.text and "dir/f.bin" in detail.text
    browser.post("/buckets/versioning", bucket=bucket, status="Enabled")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    browser.post("/buckets/delete-object", bucket=bucket, key="dir/f.bin", confirmed="yes")
    versions = browser.get("/buckets/detail", bucket=bucket).text
    assert "(delete marker)" in versions
    for v in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    for m in s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=m["Key"], VersionId=m["VersionId"])
    browser.post("/buckets/delete", bucket=bucket, confirmed="yes")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_an_oversized_upload_is_refused_before_it_is_read(cloud: Cloud, browser: Browser) -> None:
    import http.client

    host, port = urllib.parse.urlsplit(cloud.console).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
    headers = {
        "Cookie": cookie,
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(6 << 30),
    }
    connection.putrequest("POST", "/console/buckets/upload")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    answer = connection.getresponse()
    text = answer.read().decode()
    assert answer.status == 413 and "larger than the console takes" in text
    connection.close()


def test_post_without_csrf_token_is_refused(cloud: Cloud, browser: Browser, member: Login) -> None:
    name = f"key-{uuid.uuid4().hex[:6]}"
    assert browser.post("/keypairs/create", csrf=False, name=name).status == 403
    browser.get("/keypairs")
    assert browser.post("/keypairs/create", _csrf="forged", name=name).status == 403
    names = [k["KeyName"] for k in _ec2(cloud, member).describe_key_pairs()["KeyPairs"]]
    assert name not in names


def test_forged_and_expired_cookies_lead_to_sign_in(cloud: Cloud, browser: Browser) -> None:
    [cookie] = [c for c in browser.jar if c.name == "mallee_console"]
    cookie.value = cookie.value[:-8] + "AAAAAAAA"
    forged = browser.get("/instances")
    assert forged.status == 403 and "session cookie is not valid" in forged.text
    assert 'action="/console/login"' in forged.text
    if cloud.data_dir is None:
        pytest.skip("a deployed cloud's console key is not at hand")
    from mallee.console.session import Sealer, Session
    from mallee.sealing_key import load_key

    sealer = Sealer(load_key(cloud.data_dir))
    old = Session(account="x", user="y", access_key="AKIA", secret_key="s", expires=time.time() - 1)
    [cookie] = [c for c in browser.jar if c.name == "mallee_console"]
    cookie.value = sealer.seal(old)
    page = browser.get("/instances")
    assert page.status == 403 and "Your session has expired" in page.text


def test_cloud_admin_sees_administration(cloud: Cloud) -> None:
    iam = _iam(cloud, cloud.admin.access_key, cloud.admin.secret_key)
    user, password = _user_with_password(iam, "eucalyptus")
    b = Browser(cloud.console)
    assert b.login("eucalyptus", user, password).url.endswith("/console/")
    services = b.get("/admin/services")
    assert services.status == 200 and "user-api" in services.text and "ENABLED" in services.text
    props = b.get("/admin/properties", field="prefix", value="cloud.")
    assert props.status == 200 and "cloud." in props.text
    empyrean = mallee_client(
        "empyrean",
        cloud.endpoint + "/services/Empyrean",
        region_name=REGION,
        aws_access_key_id=cloud.admin.access_key,
        aws_secret_access_key=cloud.admin.secret_key,
    )
    name = "cloud.vmstate.instance_timeout"
    before = empyrean.describe_properties(Property=[name])["Properties"][0]["Value"]
    changed = str(int(before) + 1)
    page = b.post("/admin/properties", name=name, value=changed)
    assert not page.errors() and f"{name}: {before} -&gt; {changed}" in page.text
    assert empyrean.describe_properties(Property=[name])["Properties"][0]["Value"] == changed
    b.post("/admin/properties", name=name, value=before)
    assert empyrean.describe_properties(Property=[name])["Properties"][0]["Value"] == before
    nodes = b.get("/admin/nodes")
    assert nodes.status == 200 and "ENABLED" in nodes.text
    accounts = b.get("/admin/accounts")
    assert accounts.status == 200 and "eucalyptus" in accounts.text
    types = b.get("/admin/instance-types")
    assert types.status == 200 and "m1.small" in types.text


def test_administration_follows_rights_not_the_account_name(cloud: Cloud) -> None:
    """A user of the eucalyptus account whom no policy lets call Empyrean sees no
    administration: the pages follow what the cloud allows, not the name typed."""
    iam = _iam(cloud, cloud.admin.access_key, cloud.admin.secret_key)
    user, password = f"web-{uuid.uuid4().hex[:6]}", f"Pw-{uuid.uuid4().hex}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=password)
    b = Browser(cloud.console)
    assert b.login("eucalyptus", user, password).url.endswith("/console/")
    assert "/console/admin/services" not in b.last.text if b.last else False
    assert b.get("/admin/services").status == 403
    assert b.get("/admin/nodes").status == 403


def test_iam_for_the_account_admin(cloud: Cloud, browser: Browser, member: Login) -> None:
    own = _iam(cloud, member.access_key, member.secret_key)
    page = browser.get("/iam/users")
    assert page.status == 200 and member.user in page.text
    name = f"dev-{uuid.uuid4().hex[:6]}"
    made = browser.post("/iam/create", kind="user", name=name)
    assert not made.errors() and f"IAM user {name}" in made.text
    key_page = browser.post("/iam/keys/create", name=name)
    [key_id] = re.findall(r'id="access-key-id">([A-Z0-9]+)<', key_page.text)
    assert "secret-access-key" in key_page.text
    keys = own.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key_id]
    browser.get("/iam/user", name=name)
    browser.post("/iam/password", name=name, exists="no", password=f"Pw-{uuid.uuid4().hex}")
    assert own.get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        }
    )
    page = browser.post("/iam/policy/put", kind="user", name=name, policy="look", document=document)
    assert not page.errors() and "ec2:Describe*" in page.text
    assert own.list_user_policies(UserName=name)["PolicyNames"] == ["look"]
    bad = browser.post("/iam/policy/put", kind="user", name=name, policy="bad", document="{")
    assert bad.errors() and "not JSON" in bad.errors()[0]
    # Deleting a user who still has keys: IAM's refusal, as "Code: message" by the form.
    refused = browser.post("/iam/delete", kind="user", name=name, confirmed="yes")
    assert refused.errors() and refused.errors()[0].startswith("DeleteConflict:")
    browser.post("/iam/keys/delete", name=name, key=key_id, confirmed="yes")
    browser.post("/iam/password/delete", name=name, confirmed="yes")
    browser.post("/iam/policy/delete", kind="user", name=name, policy="look", confirmed="yes")
    gone = browser.post("/iam/delete", kind="user", name=name, confirmed="yes")
    assert not gone.errors()
    assert name not in [u["UserName"] for u in own.list_users()["Users"]]
    assert browser.get("/iam/roles").status == 200
    assert browser.get("/iam/policies").status == 200
    assert browser.get("/iam/groups").status == 200


def test_images_and_their_details(cloud: Cloud, browser: Browser, member: Login) -> None:
    ec2 = _ec2(cloud, member)
    emi = ec2.describe_images(Filters=[{"Name": "image-type", "Values": ["machine"]}])["Images"][0]
    page = browser.get("/images", field="image-type", value="machine")
    assert emi["ImageId"] in page.text and "eki-" not in page.text
    detail = browser.get("/images/detail", id=emi["ImageId"])
    assert detail.status == 200 and "Block devices" in detail.text
    assert "Launch instances of this image" in detail.text


def test_a_bucket_named_console_is_still_s3(cloud: Cloud, member: Login) -> None:
    s3 = cloud.client("s3", member.access_key, member.secret_key)
    s3.create_bucket(Bucket="console")
    try:
        s3.put_object(Bucket="console", Key="login", Body=b"data")
        assert s3.get_object(Bucket="console", Key="login")["Body"].read() == b"data"
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "console", "Key": "login"})
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.read() == b"data"
    finally:
        s3.delete_object(Bucket="console", Key="login")
        s3.delete_bucket(Bucket="console")


def _wait(what: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return found


def test_volume_snapshot_and_delete_both(cloud: Cloud, browser: Browser, member: Login) -> None:
    ec2 = _ec2(cloud, member)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    page = browser.get("/volumes")
    assert f'<option value="{zone}"' in page.text
    page = browser.post("/volumes/create", size="1", zone=zone)
    assert not page.errors()
    [volume_id] = re.findall(r"Creating volume (vol-[0-9a-f]+)", page.text)
    assert volume_id in page.text

    def state(volume: str) -> str:
        return str(ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["State"])

    _wait(lambda: state(volume_id) == "available")
    # A size no volume has: refused beside the form, nothing made.
    too_big = browser.post("/volumes/create", size="0", zone=zone)
    assert too_big.errors() == ["the size must be 1 to 16384 GiB"]
    listed = browser.get("/volumes", field="volume-id", value=volume_id)
    assert volume_id in listed.text and 'action="/console/volumes/snapshot"' in listed.text
    page = browser.post("/volumes/snapshot", id=volume_id, description="from the console")
    assert not page.errors()
    [snapshot_id] = re.findall(r"Snapshot (snap-[0-9a-f]+) of", page.text)
    mine = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert mine["VolumeId"] == volume_id and mine["Description"] == "from the console"

    def snapshot_state() -> str:
        found = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        return str(found[0]["State"])

    _wait(lambda: snapshot_state() == "completed")
    snapshots = browser.get("/snapshots")
    assert snapshot_id in snapshots.text and "from the console" in snapshots.text
    assert f"/console/volumes?snapshot={snapshot_id}" in snapshots.text
    # Both deleted only once confirmed.
    asked = browser.post("/snapshots/delete", id=snapshot_id)
    assert f"Delete snapshot {snapshot_id}?" in asked.text
    assert snapshot_state() == "completed"
    page = browser.post("/snapshots/delete", id=snapshot_id, confirmed="yes")
    assert not page.errors() and f"Deleted snapshot {snapshot_id}" in page.text
    assert snapshot_id not in [
        s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    ]
    browser.get("/volumes")
    asked = browser.post("/volumes/delete", id=volume_id)
    assert f"Delete volume {volume_id}?" in asked.text and state(volume_id) == "available"
    page = browser.post("/volumes/delete", id=volume_id, confirmed="yes")
    assert not page.errors() and f"Deleted volume {volume_id}" in page.text

    def gone() -> bool:
        left = ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [volume_id]}])
        return not left["Volumes"]

    _wait(gone)
