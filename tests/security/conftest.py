"""Fixtures shared by the security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fresh_database_url
from tests.e2e.conftest import Cloud
from tests.e2e.test_s3_acl import Account, make_account
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
def cloud(module_cloud: Cloud) -> Cloud:
    """Each security module probes a cloud of its own (see module_cloud in tests/conftest.py)."""
    return module_cloud


@pytest.fixture(scope="module")
def owner(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    """An account whose resources the probes go after."""
    return make_account(cloud, tmp_path_factory.mktemp("owner"))


@pytest.fixture(scope="module")
def other(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    """Another account, probing the owner's resources."""
    return make_account(cloud, tmp_path_factory.mktemp("other"))
