"""Shared test fixtures: which database the suite runs against."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The servers tests start (`mallee up`, `mallee api`) serve no web console unless a test gives
# them a port of its own (--console-port): many run at once, and the default port is one.
os.environ.setdefault("MALLEE_CONSOLE_PORT", "0")

# Test directories whose tests never touch the state store: run once, not once per database.
NODB_DIRS = ("unit/api/protocol", "unit/api/auth", "unit/policy")
# Modules that test the data plane (guests, images, packets, processes) and use the store only
# as the other VM tests do: the PostgreSQL pass leaves them to the SQLite pass.
DATAPLANE_MODULES = (
    "vm/test_node_qemu.py",
    "vm/test_default_image.py",
    "vm/test_debian_image.py",
    "vm/test_debian_import.py",
    "vm/test_network_dataplane.py",
    "vm/test_edge_security.py",
    "vm/test_vpc_dataplane.py",
    "vm/test_two_clouds.py",
    "vm/test_volumes_rbd.py",
    "vm/test_elb_workers.py",
    "vm/test_elb_observability.py",
    # Their rows are the e2e modules' (test_elb_api, test_elb_vpc_api, test_autoscaling_*),
    # which the PostgreSQL pass runs.
    "vm/test_elb_vms.py",
    "vm/test_elb_vpc.py",
    "vm/test_autoscaling_vms.py",
)


# Directories that drive the cloud as its users' tools do (the console in a browser, Ansible,
# Libcloud): the store they reach is the e2e modules', so the PostgreSQL pass leaves them to
# the SQLite pass.
CLIENT_DIRS = ("browser/", "clients/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = item.path.relative_to(config.rootpath / "tests").as_posix()
        if rel.startswith(NODB_DIRS):
            item.add_marker(pytest.mark.nodb)
        if rel in DATAPLANE_MODULES:
            item.add_marker(pytest.mark.dataplane)
        if rel.startswith(CLIENT_DIRS):
            item.add_marker(pytest.mark.clientside)


def _postgres_url() -> str | None:
    return os.environ.get("MALLEE_TEST_PG_URL") or None


def fresh_database_url(tmp: Path) -> Iterator[str]:
    """SQLite in `tmp`, or a new PostgreSQL database when MALLEE_TEST_DB=postgres."""
    if os.environ.get("MALLEE_TEST_DB", "sqlite") != "postgres":
        yield f"sqlite:///{tmp / 'mallee.db'}"
        return
    base = _postgres_url()
    if base is None:
        pytest.fail("MALLEE_TEST_DB=postgres needs MALLEE_TEST_PG_URL")
    import psycopg

    name = f"mallee_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = base.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    yield from fresh_database_url(tmp_path)


@pytest.fixture
def store(db_url: str) -> Iterator[object]:
    from mallee.store import Store

    s = Store(db_url)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture(scope="module")
def module_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A live cloud (`mallee up`, fake hypervisor) of one test module's own: a module whose
    probes may change the cloud (security tests, unmodified clients) disturbs no other.
    MALLEE_E2E_ENDPOINT (+ keys) points it at a cloud already running, as for tests/e2e."""
    from tests.e2e.conftest import Cloud, Keys, start_cloud, stop_cloud

    deployed = os.environ.get("MALLEE_E2E_ENDPOINT")
    if deployed:
        keys = Keys(os.environ["MALLEE_E2E_ACCESS_KEY"], os.environ["MALLEE_E2E_SECRET_KEY"])
        yield Cloud(deployed, keys)
        return
    data_dir = tmp_path_factory.mktemp("cloud")
    for url in fresh_database_url(data_dir):
        cloud = start_cloud(data_dir, url)
        try:
            yield cloud
        finally:
            stop_cloud(cloud)
