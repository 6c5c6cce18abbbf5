"""Start the api server with uvicorn."""

from __future__ import annotations

import os

import uvicorn

from mallee.api.server import App
from mallee.config import Settings
from mallee.store import Store


def create_app() -> App:
    """Factory for uvicorn workers: each process builds its own app from the environment."""
    return App(Settings.from_env())


def _export(settings: Settings) -> None:
    """Worker processes rebuild Settings from the environment; put the CLI's choices there."""
    os.environ["MALLEE_DATA_DIR"] = str(settings.data_dir)
    os.environ["MALLEE_DB_URL"] = settings.db_url
    os.environ["MALLEE_HOST"] = settings.host
    os.environ["MALLEE_PORT"] = str(settings.port)
    os.environ["MALLEE_SERVICE_NAME"] = settings.service_name


def run_api(settings: Settings, *, workers: int = 1) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    store.migrate()
    store.dispose()
    _export(settings)
    uvicorn.run(
        "mallee.cli.run:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    return 0
