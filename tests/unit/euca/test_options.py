"""Options, endpoints, credentials and dispatch: everything before the first request."""

from __future__ import annotations

import argparse

import pytest

from mallee.euca import args as opts
from mallee.euca import env
from mallee.euca.commands.groups import rule
from mallee.euca.commands.images import location
from mallee.euca.commands.instance_attributes import escape_console
from mallee.euca.commands.instances import block_device_mapping
from mallee.euca.errors import CommandError
from mallee.euca.main import _join_dash_values, parser_for, run
from mallee.euca.registry import COMMANDS

pytestmark = pytest.mark.nodb

EUCARC = {
    "EC2_URL": "http://clc:8773/services/compute",
    "EUCA_PROPERTIES_URL": "http://clc:8773/services/Empyrean",
    "EC2_ACCESS_KEY": "AKIDEC2",
    "EC2_SECRET_KEY": "secret-ec2",
}


def test_endpoints_from_the_eucarc() -> None:
    assert env.endpoint_url("ec2", EUCARC) == "http://clc:8773/services/compute"
    assert env.endpoint_url("empyrean", EUCARC) == "http://clc:8773/services/Empyrean"
    # Not in this eucarc: the same cloud, the service's usual path.
    assert env.endpoint_url("iam", EUCARC) == "http://clc:8773/services/Euare"
    assert env.endpoint_url("ec2", EUCARC, "http://other:1/x") == "http://other:1/x"
    only_base = {"AWS_ENDPOINT_URL": "https://cloud:443"}
    assert env.endpoint_url("s3", only_base) == "https://cloud:443/services/objectstorage"
    with pytest.raises(CommandError, match="source your eucarc"):
        env.endpoint_url("ec2", {})
    with pytest.raises(CommandError, match="not an http"):
        env.endpoint_url("ec2", {"EC2_URL": "clc:8773"})


def test_credentials_and_region() -> None:
    keys = env.credentials(EUCARC)
    assert (keys.access_key, keys.secret_key, keys.session_token) == ("AKIDEC2", "secret-ec2", None)
    aws = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", **EUCARC}
    assert env.credentials(aws).access_key == "AKID"
    assert env.credentials(aws, "I", "S").secret_key == "S"
    with pytest.raises(CommandError, match="no credentials"):
        env.credentials({"AWS_ACCESS_KEY_ID": "only-half"})
    assert env.region({}) == "eucalyptus"
    assert env.region({"AWS_DEFAULT_REGION": "r1"}) == "r1"
    assert env.region({}, "admin@r2") == "r2"


def test_filters_and_tags() -> None:
    assert opts.filters(["tag:Name=web", "instance-state-name=running", "tag:Name=db"]) == [
        {"Name": "tag:Name", "Values": ["web", "db"]},
        {"Name": "instance-state-name", "Values": ["running"]},
    ]
    with pytest.raises(CommandError):
        opts.filters(["novalue"])
    assert opts.tag("Name=a=b") == {"Key": "Name", "Value": "a=b"}
    assert opts.tag("testtag") == {"Key": "testtag", "Value": ""}


def test_port_ranges() -> None:
    assert opts.port_range("tcp", "22", None) == (22, 22)
    assert opts.port_range("tcp", "8000-8080", None) == (8000, 8080)
    assert opts.port_range("tcp", "-1", None) == (1, 65535)
    assert opts.port_range("tcp", "ssh", None) == (22, 22)
    assert opts.port_range("icmp", None, None) == (-1, -1)
    assert opts.port_range("icmp", None, "8:0") == (8, 0)
    assert opts.port_range("-1", None, None) == (None, None)
    for bad in (("tcp", None, None), ("tcp", "1:2", None), ("icmp", "22", None)):
        with pytest.raises(CommandError):
            opts.port_range(*bad)


def _parse(name: str, *argv: str) -> argparse.Namespace:
    command = COMMANDS[name]
    return parser_for(command).parse_args(_join_dash_values(argv, command.dash_values))


def test_authorize_rules_and_negative_values() -> None:
    permission, line = rule(_parse("euca-authorize", "web", "-P", "icmp", "-t", "-1:-1"))
    assert permission == {
        "IpProtocol": "icmp",
        "FromPort": -1,
        "ToPort": -1,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    assert line == ["PERMISSION", "web", "ALLOWS", "icmp", -1, -1, "FROM", "CIDR", "0.0.0.0/0"]
    args = _parse("euca-authorize", "web", "-p", "80", "-o", "default", "-u", "123")
    permission, line = rule(args)
    assert permission["UserIdGroupPairs"] == [{"UserId": "123", "GroupName": "default"}]
    assert line[-4:] == ["USER", "123", "NAME", "default"]


def test_block_device_mappings() -> None:
    assert block_device_mapping("/dev/sdb=ephemeral0") == {
        "DeviceName": "/dev/sdb",
        "VirtualName": "ephemeral0",
    }
    assert block_device_mapping("/dev/sdc=snap-1:10:true:standard") == {
        "DeviceName": "/dev/sdc",
        "Ebs": {
            "SnapshotId": "snap-1",
            "VolumeSize": 10,
            "DeleteOnTermination": True,
            "VolumeType": "standard",
        },
    }
    with pytest.raises(CommandError):
        block_device_mapping("/dev/sdc=snap-1:ten")


def test_manifest_locations(tmp_path: object) -> None:
    assert location("bucket/image.manifest.xml") == "bucket/image.manifest.xml"
    assert location("file:/x") == "file:/x"
    assert location(__file__).startswith("file:/")


def test_console_escapes() -> None:
    assert escape_console("a\x1b[0mb\tc\n\x7f") == "a^[[0mb\tc\n^?"


def test_every_registered_command_parses_help() -> None:
    for name, command in COMMANDS.items():
        assert command.name == name
        assert parser_for(command).format_help()


def test_errors_are_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["/usr/bin/euca-describe-instances"], {})
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("euca-describe-instances: error: no credentials: source your eucarc")
    assert "Traceback" not in err and err.count("\n") == 1
    keys_only = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}
    assert run(["euca-describe-instances"], keys_only) == 1
    assert "error: no endpoint for ec2" in capsys.readouterr().err
    # python -m mallee.euca <command>
    assert run(["mallee.euca", "euca-describe-keypairs"], {}) == 1
    assert "euca-describe-keypairs: error" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="name a command"):
        run(["something-else"], {})
