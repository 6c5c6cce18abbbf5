"""Start the api server with uvicorn: the API on its port, the web console on its own."""

from __future__ import annotations

import os
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from mallee.config import Settings
from mallee.gateway.server import App
from mallee.store import Store


def create_app() -> App:
    """Factory for uvicorn workers: each process builds its own app from the environment."""
    return App(Settings.from_env())


def _export(settings: Settings) -> None:
    """Worker processes rebuild Settings from the environment; put the CLI's choices there."""
    os.environ.update(settings.to_env())


def listen(host: str, port: int) -> socket.socket:
    """A bound socket the workers share (uvicorn listens on it in each)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server_config(settings: Settings, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        "mallee.cli.run:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        # httptools with limits on a request's head (size, headers, time).
        http="mallee.api.http_limits:LimitedHttpToolsProtocol",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        # Clients holding keep-alive connections must not keep a stopping server up.
        timeout_graceful_shutdown=5,
    )


def run_api(settings: Settings, *, workers: int = 1) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    store.migrate()
    store.dispose()
    if settings.console_port == settings.port:
        print("mallee: the web console needs a port of its own (--console-port).", file=sys.stderr)
        return 2
    _export(settings)
    config = server_config(settings, workers)
    # One server, two listening sockets: the app tells the console's requests by the port
    # they came in on. The console's is an origin of its own, where no S3 object is served.
    ports = [settings.port] + ([settings.console_port] if settings.console_port else [])
    sockets: list[socket.socket] = []
    try:
        for port in ports:
            sockets.append(listen(settings.host, port))
    except OSError as err:
        print(
            f"mallee: cannot listen on {settings.host} port {port}: {err.strerror}",
            file=sys.stderr,
        )
        for sock in sockets:
            sock.close()
        return 1
    if workers > 1:
        Multiprocess(config, sockets=sockets).run()
        return 0
    server = uvicorn.Server(config)
    server.run(sockets=sockets)
    return 0 if server.started else 1
