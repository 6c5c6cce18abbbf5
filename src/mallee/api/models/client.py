"""boto3 clients that know mallee's models: Empyrean, and AWS services with Eucalyptus extensions.

botocore only finds models on its loader's search paths, and knows nothing of mallee's patches
(`data/patches/<name>.json`). The loader here serves `service-2` from `model_dict`, so a client
sees exactly the model the server parses with:

    iam = mallee_client("iam", "http://127.0.0.1:8773/services/Euare",
                        aws_access_key_id=..., aws_secret_access_key=...)
    empyrean = mallee_client("empyrean", "http://127.0.0.1:8773/services/Empyrean", ...)
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

from mallee.api.models.loader import DATA_DIR, model_dict

DEFAULT_REGION = "eucalyptus"


class MalleeLoader(Loader):  # type: ignore[misc]  # botocore is untyped
    """botocore's loader with mallee's data directory first and its patches applied."""

    def __init__(self) -> None:
        super().__init__(extra_search_paths=[str(DATA_DIR)])

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if type_name == "service-2" and api_version is None:
            # A copy: botocore must never share (or mutate) the server's cached model.
            return copy.deepcopy(model_dict(service_name))
        return super().load_service_model(service_name, type_name, api_version)


@functools.cache
def _loader() -> MalleeLoader:
    return MalleeLoader()


def botocore_session() -> Any:
    """A botocore session whose clients load models through MalleeLoader."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader())
    return session


def mallee_client(
    service: str,
    endpoint_url: str,
    *,
    region_name: str = DEFAULT_REGION,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    config: Config | None = None,
) -> Any:
    """A boto3 client for `service` (a botocore name: iam, empyrean, ...) at `endpoint_url`."""
    session = boto3.session.Session(botocore_session=botocore_session())
    return session.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        config=config,
    )
