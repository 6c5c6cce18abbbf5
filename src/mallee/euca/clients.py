"""botocore clients that know mallee's models (Empyrean, the Eucalyptus EC2 extensions)."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.config import Config

from mallee.api.models.client import MalleeLoader
from mallee.api.models.loader import model_dict
from mallee.euca.env import Credentials

# A command is interactive: a cloud that is down should say so in seconds, not after minutes
# of retries; one retry still rides over a dropped keep-alive connection.
CONFIG = Config(
    connect_timeout=5,
    read_timeout=120,
    retries={"total_max_attempts": 2, "mode": "standard"},
    user_agent_extra="mallee-euca",
)


class _CommandLoader(MalleeLoader):
    """MalleeLoader without its defensive copy of the model.

    The copy keeps botocore off the server's cached model; a command's process serves nothing,
    and copying the EC2 model costs about a third of a second on every command.
    """

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if type_name == "service-2" and api_version is None:
            return model_dict(service_name)
        return super().load_service_model(service_name, type_name, api_version)


def _keep_timestamps(value: str) -> str:
    return value


def make_client(service: str, url: str, region: str, keys: Credentials) -> Any:
    session = botocore.session.get_session()
    session.register_component("data_loader", _CommandLoader())
    # euca2ools prints times exactly as the service sent them (2013-06-10T12:29:41.082Z), so the
    # parser keeps them as text instead of turning them into datetimes.
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_keep_timestamps
    )
    return session.create_client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.session_token,
        config=CONFIG,
    )
