"""Fixtures shared by the security tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import fresh_database_url
from tests.e2e.conftest import Cloud, Keys, start_cloud, stop_cloud
from tests.security.fuzz_harness import Pipeline, pipeline_at


@pytest.fixture(scope="session")
def fuzz_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The request pipeline (Chain) over a real store, shared by every fuzz test: the fuzzing
    signs as a read-only user, so no example changes what the next one finds."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    for db_url in fresh_database_url(data_dir):
        with pipeline_at(data_dir, db_url) as pipeline:
            yield pipeline


@pytest.fixture(scope="module")
def module_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """A live cloud (`mallee up`, fake hypervisor) of one test module's own: a module whose
    probes may change the cloud if a defect lets them cannot disturb another module.
    MALLEE_E2E_ENDPOINT (+ keys) points it at a cloud already running, as for tests/e2e."""
    deployed = os.environ.get("MALLEE_E2E_ENDPOINT")
    if deployed:
        keys = Keys(os.environ["MALLEE_E2E_ACCESS_KEY"], os.environ["MALLEE_E2E_SECRET_KEY"])
        yield Cloud(deployed, keys)
        return
    data_dir = tmp_path_factory.mktemp("cloud")
    for db_url in fresh_database_url(data_dir):
        cloud = start_cloud(data_dir, db_url)
        try:
            yield cloud
        finally:
            stop_cloud(cloud)
