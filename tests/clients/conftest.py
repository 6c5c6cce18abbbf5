"""Unmodified clients our users drive the cloud with (Ansible's amazon.aws, Apache Libcloud),
each module against a live cloud of its own (`mallee up`, fake hypervisor)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fresh_database_url
from tests.e2e.conftest import Cloud, start_cloud, stop_cloud


@pytest.fixture(scope="module")
def client_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    data_dir = tmp_path_factory.mktemp("cloud")
    for db_url in fresh_database_url(data_dir):
        cloud = start_cloud(data_dir, db_url)
        try:
            yield cloud
        finally:
            stop_cloud(cloud)
