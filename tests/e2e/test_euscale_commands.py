"""The seed's euscale-*/euwatch-* transcript and the other euscale commands, run as console
scripts against a live cloud (fake hypervisor).

Output lines are matched with euca2ools 3's formats (its autoscaling commands): ids, ARNs and
times by pattern, everything else literally. Errors are one line, "<command>: error (Code): ...".
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.e2e.conftest import Cloud
from tests.e2e.test_euca_commands import ACCOUNT, TIME, Euca, matches, unique

pytestmark = pytest.mark.e2e

T = TypeVar("T")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# How long the group engine may take to act on a change (fake hypervisor: seconds at most).
SETTLE = 90.0


def policy_arn(group: str, policy: str) -> str:
    # The seed's ARN has no region (arn:aws:autoscaling::<account>:...); AWS's has one.
    return (
        rf"arn:aws:autoscaling:[\w-]*:{ACCOUNT}:scalingPolicy:{UUID}:"
        rf"autoScalingGroupName/{re.escape(group)}:policyName/{re.escape(policy)}"
    )


def eventually(probe: Callable[[], T | None], what: str) -> T:
    """What `probe` finds once it finds something, asking again while the engine works."""
    deadline = time.monotonic() + SETTLE
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"the group engine did not get there: {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def euca(cloud: Cloud) -> Euca:
    return Euca(cloud)


@pytest.fixture(scope="module")
def zone(euca: Euca) -> str:
    (line,) = euca("euca-describe-availability-zones")
    return line.split("\t")[1]


@pytest.fixture(scope="module")
def emi(euca: Euca) -> str:
    (line,) = euca("euca-describe-images", "-a", "--filter", "name=mallee-default")
    return line.split("\t")[1]


@pytest.fixture
def config(euca: Euca, emi: str) -> Iterator[str]:
    name = unique("lc")
    assert euca("euscale-create-launch-config", name, "-i", emi, "-t", "m1.small") == []
    yield name
    euca.run("euscale-delete-launch-config", name)


def delete_group(euca: Euca, name: str) -> None:
    """Delete the group with its instances, and wait until it is gone (its launch
    configuration may be deleted only then)."""
    done = euca.run("euscale-delete-auto-scaling-group", name, "--force-delete")
    assert done.returncode == 0 or "not found" in done.stderr, done.stderr
    eventually(
        lambda: (
            not any(
                line.startswith("AUTO-SCALING-GROUP\t")
                for line in euca("euscale-describe-auto-scaling-groups", name)
            )
        ),
        f"{name} deleted",
    )


def fails(done: subprocess.CompletedProcess[str], start: str, status: int = 1) -> None:
    assert done.returncode == status and not done.stdout, done
    assert done.stderr.startswith(start), done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_the_seed_transcript(euca: Euca, emi: str, zone: str) -> None:
    lc, group = unique("MyLC"), unique("MyASGroup")
    # euscale-create-launch-config MyLC --image-id emi-90E83973 --instance-type m1.small
    assert (
        euca("euscale-create-launch-config", lc, "--image-id", emi, "--instance-type", "m1.small")
        == []
    )
    try:
        matches(
            euca("euscale-describe-launch-configs", lc),
            rf"LAUNCH-CONFIG\t{lc}\t{emi}\tm1\.small\t\t",
        )
        # euscale-create-auto-scaling-group MyASGroup --launch-configuration MyLC
        #   --availability-zones PARTI00 --min-size 1 --max-size 3
        assert (
            euca(
                "euscale-create-auto-scaling-group", group, "--launch-configuration", lc,
                "--availability-zones", zone, "--min-size", "1", "--max-size", "3",
            )
            == []
        )  # fmt: skip
        try:
            _seed_group_and_alarms(euca, lc, group, zone)
        finally:
            delete_group(euca, group)
    finally:
        euca.run("euscale-delete-launch-config", lc)
    assert euca("euscale-describe-launch-configs", lc) == []


def _seed_group_and_alarms(euca: Euca, lc: str, group: str, zone: str) -> None:
    # describe auto scaling groups: desired capacity defaults to the minimum.
    lines = euca("euscale-describe-auto-scaling-groups", group)
    assert lines[0] == f"AUTO-SCALING-GROUP\t{group}\t{lc}\t{zone}\t\t1\t3\t1\tDefault", lines
    for line in lines[1:]:
        assert re.fullmatch(rf"INSTANCE\ti-\w+\t{zone}\t\w+\t\w+\t{lc}", line), line

    # euscale-put-scaling-policy MyScaleoutPolicy --auto-scaling-group MyASGroup
    #   --adjustment=30 --type PercentChangeInCapacity  -> the policy's ARN
    (out_arn,) = euca(
        "euscale-put-scaling-policy", "MyScaleoutPolicy", "--auto-scaling-group", group,
        "--adjustment=30", "--type", "PercentChangeInCapacity",
    )  # fmt: skip
    assert re.fullmatch(policy_arn(group, "MyScaleoutPolicy"), out_arn), out_arn
    # euscale-put-scaling-policy MyScaleInPolicy ... --adjustment=-2 --type ChangeInCapacity
    (in_arn,) = euca(
        "euscale-put-scaling-policy", "MyScaleInPolicy", "--auto-scaling-group", group,
        "--adjustment=-2", "--type", "ChangeInCapacity",
    )  # fmt: skip
    assert re.fullmatch(policy_arn(group, "MyScaleInPolicy"), in_arn), in_arn
    assert sorted(euca("euscale-describe-policies", "-g", group)) == [
        f"SCALING-POLICY\t{group}\tMyScaleInPolicy\t-2\tChangeInCapacity\t{in_arn}",
        f"SCALING-POLICY\t{group}\tMyScaleoutPolicy\t30\tPercentChangeInCapacity\t{out_arn}",
    ]

    # The alarms whose actions are those ARNs, set to OK for testing.
    alarms = {unique("AddCapacity"): (out_arn, "80", "GreaterThanOrEqualToThreshold")}
    alarms[unique("RemoveCapacity")] = (in_arn, "40", "LessThanOrEqualToThreshold")
    try:
        for name, (arn, threshold, operator) in alarms.items():
            assert (
                euca(
                    "euwatch-put-metric-alarm", name, "--metric-name", "CPUUtilization",
                    "--namespace", "AWS/EC2", "--statistic", "Average", "--period", "120",
                    "--threshold", threshold, "--comparison-operator", operator,
                    "--dimensions", f"AutoScalingGroupName={group}", "--evaluation-periods",
                    "2", "--alarm-actions", arn,
                )
                == []
            )  # fmt: skip
            assert (
                euca("euwatch-set-alarm-state", "--state-value", "OK", "--state-reason",
                     "testing", name)
                == []
            )  # fmt: skip
        # AddCapacity  OK  <arn>  AWS/EC2  CPUUtilization  120  Average  2  GreaterThan...  80.0
        # (or INSUFFICIENT_DATA: the alarm engine may already have evaluated the alarm, which
        # has no data, as AWS's would within the minute; the OK is in its history then).
        for name, (arn, threshold, operator) in alarms.items():
            (line,) = euca("euwatch-describe-alarms", name)
            state, rest = line.split("\t")[1], line.split("\t", 2)[2]
            assert line.split("\t")[0] == name and state in ("OK", "INSUFFICIENT_DATA"), line
            assert rest == (
                f"{arn}\tAWS/EC2\tCPUUtilization\t120\tAverage\t2\t{operator}\t{threshold}.0"
            )
            history = euca("euwatch-describe-alarm-history", name)
            assert any("to OK" in h for h in history), history
        # The policies know the alarms that run them.
        (long,) = euca("euscale-describe-policies", "-g", group, "--show-long", "MyScaleInPolicy")
        assert long.split("\t")[1:] == [
            group, "MyScaleInPolicy", "-2", "", "ChangeInCapacity", "", in_arn,
        ]  # fmt: skip
    finally:
        euca("euwatch-delete-alarms", *alarms)


def test_a_group_launches_and_reports_its_instances(euca: Euca, config: str, zone: str) -> None:
    group = unique("g")
    euca("euscale-create-auto-scaling-group", group, "-l", config, "-z", zone, "-m", "1", "-M", "2")
    try:
        member = eventually(
            lambda: [
                line
                for line in euca("euscale-describe-auto-scaling-groups", group)
                if line.startswith("INSTANCE\t") and "\tInService\t" in line
            ],
            "an instance InService",
        )[0]
        instance = member.split("\t")[1]
        assert re.fullmatch(rf"INSTANCE\ti-\w+\t{zone}\tInService\tHealthy\t{config}", member)
        # As AWS: this answer spells the health in capitals, DescribeAutoScalingGroups' not.
        assert euca("euscale-describe-auto-scaling-instances", instance) == [
            f"INSTANCE\t{instance}\t{group}\t{zone}\tInService\tHEALTHY\t{config}"
        ]
        # The launch, as an activity: ACTIVITY id end-time group status message.
        activities = euca("euscale-describe-scaling-activities", "-g", group)
        assert any(
            re.fullmatch(rf"ACTIVITY\t\S+\t{TIME}\t{group}\tSuccessful\t", line)
            for line in activities
        ), activities
        (long,) = [
            line
            for line in euca("euscale-describe-scaling-activities", "-g", group, "--show-long")
            if instance in line
        ]
        fields = long.split("\t")
        assert len(fields) == 11 and fields[4] == "Successful", fields
        assert fields[8] == f"Launching a new EC2 instance: {instance}", fields
        assert re.fullmatch(TIME, fields[10]), fields
    finally:
        delete_group(euca, group)
    # --force-delete leaves no instance behind.
    (state,) = [
        line.split("\t")[5]
        for line in euca("euca-describe-instances", instance)
        if line.startswith("INSTANCE\t")
    ]
    assert state in ("shutting-down", "terminated"), state


def test_update_capacity_processes_and_policies(euca: Euca, config: str, zone: str) -> None:
    group = unique("g")
    euca("euscale-create-auto-scaling-group", group, "-l", config, "-z", zone, "-m", "0", "-M", "1",
         "--default-cooldown", "0", "--termination-policies", "OldestInstance,Default")  # fmt: skip
    try:
        assert (
            euca("euscale-update-auto-scaling-group", group, "-M", "4", "--grace-period", "30")
            == []
        )
        assert euca("euscale-suspend-processes", group, "--processes", "Launch,Terminate") == []
        assert euca("euscale-set-desired-capacity", group, "-c", "2") == []
        lines = euca("euscale-describe-auto-scaling-groups", "--show-long", group)
        fields = lines[0].split("\t")
        assert fields[:4] == ["AUTO-SCALING-GROUP", group, config, zone], fields
        assert re.fullmatch(TIME, fields[4]) and fields[6] == "EC2", fields
        assert fields[7:12] == ["0", "4", "2", "0", "30"], fields
        assert fields[14].endswith(f":autoScalingGroupName/{group}"), fields
        assert fields[15] == "OldestInstance,Default", fields
        # Launch is suspended: no instance comes; both suspensions are listed.
        suspended = sorted(line for line in lines if line.startswith("SUSPENDED-PROCESS\t"))
        assert [line.split("\t")[1] for line in suspended] == ["Launch", "Terminate"]
        assert all(line.endswith(f"\t{group}") for line in suspended), suspended
        assert not [line for line in lines if line.startswith("INSTANCE\t")]

        assert euca("euscale-resume-processes", group) == []
        lines = euca("euscale-describe-auto-scaling-groups", group)
        assert not [line for line in lines if line.startswith("SUSPENDED-PROCESS\t")]

        (arn,) = euca("euscale-put-scaling-policy", "exact", "-g", group, "-a", "1", "-t",
                      "ExactCapacity")  # fmt: skip
        assert re.fullmatch(policy_arn(group, "exact"), arn)
        assert euca("euscale-execute-policy", "exact", "-g", group) == []
        (line,) = euca("euscale-describe-auto-scaling-groups", group)[:1]
        assert line.split("\t")[5:8] == ["0", "4", "1"], line
        assert euca("euscale-delete-policy", "exact", "-g", group) == []
        assert euca("euscale-describe-policies", "-g", group) == []
    finally:
        delete_group(euca, group)


def test_bad_input_is_one_sentence(euca: Euca, config: str, emi: str, zone: str) -> None:
    missing = unique("nosuch")
    # Names that match nothing are an empty answer, as AWS gives.
    assert euca("euscale-describe-launch-configs", missing) == []
    assert euca("euscale-describe-auto-scaling-groups", missing) == []
    fails(
        euca.run("euscale-create-launch-config", config, "-i", emi, "-t", "m1.small"),
        "euscale-create-launch-config: error (AlreadyExists): ",
    )
    fails(
        euca.run("euscale-create-auto-scaling-group", missing, "-l", config, "-z", zone,
                 "-m", "3", "-M", "1"),
        "euscale-create-auto-scaling-group: error (ValidationError): ",
    )  # fmt: skip
    fails(
        euca.run("euscale-create-auto-scaling-group", missing, "-l", missing, "-z", zone,
                 "-m", "0", "-M", "1"),
        "euscale-create-auto-scaling-group: error (ValidationError): ",
    )  # fmt: skip
    fails(
        euca.run("euscale-set-desired-capacity", missing, "-c", "1"),
        "euscale-set-desired-capacity: error (ValidationError): ",
    )
    group = unique("g")
    euca("euscale-create-auto-scaling-group", group, "-l", config, "-z", zone, "-m", "0", "-M", "1")
    try:
        fails(
            euca.run("euscale-create-auto-scaling-group", group, "-l", config, "-z", zone,
                     "-m", "0", "-M", "1"),
            "euscale-create-auto-scaling-group: error (AlreadyExists): ",
        )  # fmt: skip
        fails(
            euca.run("euscale-set-desired-capacity", group, "-c", "5"),
            "euscale-set-desired-capacity: error (ValidationError): ",
        )
        fails(
            euca.run("euscale-delete-launch-config", config),
            "euscale-delete-launch-config: error (ResourceInUse): ",
        )
        fails(
            euca.run("euscale-execute-policy", missing, "-g", group),
            "euscale-execute-policy: error (ValidationError): ",
        )
    finally:
        delete_group(euca, group)
    # Refused before any request, with argparse's status 2.
    bad_type = euca.run("euscale-put-scaling-policy", "p", "-g", group, "-a", "1", "-t", "Most")
    assert bad_type.returncode == 2 and "argument -t/--type: invalid choice" in bad_type.stderr
    bad_tag = euca.run("euscale-create-auto-scaling-group", group, "-l", config, "-m", "0", "-M",
                       "1", "-z", zone, "--tag", "v=1")  # fmt: skip
    assert bad_tag.returncode == 2 and "must contain a 'k=' segment" in bad_tag.stderr
