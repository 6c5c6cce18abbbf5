"""e1b5b0070602 on a cloud with instances: they join their account's default VPC (the default
subnet of their zone), the live ones get a primary interface with their addresses, groups keep
their names in the default VPC, and the node usage triggers survive (no table copy)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlalchemy import text

from mallee.store import Store
from tests.migrations import sqlite_store_at

BEFORE = "e1b5b0070601"
ACCOUNT = "123456789012"


def _rows(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        # An account whose default VPC e1b5b0070601 made, with a node in zone "one".
        conn.execute(
            text("INSERT INTO iam_accounts (id, name, created_at) VALUES (:a, 'a', :t)"),
            {"a": ACCOUNT, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO ec2_account_vpc (account_id, default_vpc_id, "
                "default_dhcp_options_id, default_subnet_zones) "
                "VALUES (:a, 'vpc-1', 'dopt-1', 'one')"
            ),
            {"a": ACCOUNT},
        )
        conn.execute(
            text(
                "INSERT INTO ec2_vpcs (id, account_id, cidr, is_default, state, dhcp_options_id, "
                "enable_dns_support, enable_dns_hostnames, instance_tenancy, created_at) VALUES "
                "('vpc-1', :a, '10.111.0.0/16', 1, 'available', 'dopt-1', 1, 1, 'default', :t)"
            ),
            {"a": ACCOUNT, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO ec2_subnets (id, vpc_id, account_id, zone, cidr, default_for_az, "
                "map_public_ip_on_launch, state, created_at) VALUES "
                "('subnet-1', 'vpc-1', :a, 'one', '', 1, 1, 'available', :t)"
            ),
            {"a": ACCOUNT, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO ec2_security_groups (id, account_id, name, description, created_at) "
                "VALUES ('sg-1', :a, 'default', 'default group', :t)"
            ),
            {"a": ACCOUNT, "t": now},
        )
        for iid, state, ip in (("i-1", "running", "10.111.1.2"), ("i-2", "terminated", None)):
            conn.execute(
                text(
                    "INSERT INTO ec2_instances (id, account_id, reservation_id, requester_arn, "
                    "launch_index, image_id, instance_type, cores, memory_mb, disk_gb, "
                    "availability_zone, security_groups, monitoring, disable_api_termination, "
                    "shutdown_behavior, root_device_type, root_device_name, state, "
                    "transition_reason, node, mac, private_ip, reboots_requested, reboots_done, "
                    "launch_time, state_changed_at, block_device_mappings) VALUES (:i, :a, 'r-1', "
                    "'', 0, 'emi-1', 'm1.small', 1, 256, 5, 'one', '[]', 0, 0, 'stop', "
                    "'instance-store', '/dev/sda1', :s, '', 'n1', :m, :ip, 0, 0, :t, :now, '[]')"
                ),
                {
                    "i": iid,
                    "a": ACCOUNT,
                    "s": state,
                    "m": "d0:0d:01:02:03:04" if ip else None,
                    "ip": ip,
                    "t": now,
                    "now": time.time(),
                },
            )


def test_existing_instances_join_the_default_vpc(tmp_path: Path) -> None:
    old = sqlite_store_at(tmp_path / "old.db", BEFORE)
    _rows(old)
    old.dispose()
    store = Store(old.url)
    try:
        store.migrate()
        with store.engine.connect() as conn:
            placed = conn.execute(
                text("SELECT id, vpc_id, subnet_id FROM ec2_instances ORDER BY id")
            ).all()
            assert [tuple(r) for r in placed] == [
                ("i-1", "vpc-1", "subnet-1"),
                ("i-2", "vpc-1", "subnet-1"),
            ]
            (eni,) = conn.execute(
                text(
                    "SELECT instance_id, device_index, private_ip, mac, subnet_id, status, "
                    "delete_on_termination FROM ec2_network_interfaces"
                )
            ).all()
            expected = ("i-1", 0, "10.111.1.2", "d0:0d:01:02:03:04", "subnet-1", "in-use", True)
            assert tuple(eni) == expected
            (group,) = conn.execute(text("SELECT vpc_id FROM ec2_security_groups")).all()
            assert group[0] == ""
            triggers = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            assert any("node_usage" in t[0] for t in triggers)
    finally:
        store.dispose()
