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
    os.environ.update(settings.to_env())


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
        # Clients holding keep-alive connections must not keep a stopping server up.
        timeout_graceful_shutdown=5,
    )
    return 0
