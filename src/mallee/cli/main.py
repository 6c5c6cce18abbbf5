"""`mallee`: run the cloud's components and administer it."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mallee.config import Settings
from mallee.datadir import SharedDirectoryError, make_private, private_umask

# Commands whose process keeps state in the data directory (made or tightened first).
DATA_DIR_COMMANDS = frozenset({"api", "controller", "node", "storage", "up", "init", "upgrade"})


CONSOLE_PORT_HELP = "the web console's port, on the same address (default 8888; 0: none)"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        db_url=args.db_url,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        console_port=getattr(args, "console_port", None),
        service_name=getattr(args, "name", None) if args.command != "node" else None,
        node_name=getattr(args, "name", None) if args.command == "node" else None,
    )


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from mallee.store import Store

    settings = _settings(args)
    store = Store(settings.database_url)
    store.migrate()
    store.dispose()
    print(f"database at {settings.database_url} is up to date")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    from mallee.store.migrate import new_revision

    new_revision(args.message)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from mallee.cli.run import run_api

    return run_api(_settings(args), workers=args.workers)


def cmd_controller(args: argparse.Namespace) -> int:
    from mallee.cli.alarm_calls import alarm_calls
    from mallee.controller.main import run_controller
    from mallee.store import Store

    settings = _settings(args)
    # The alarm and group engines' way to the services (actions, metric math, launches),
    # through the gateway.
    calls, math = alarm_calls(settings, Store(settings.database_url))
    return run_controller(settings, calls, math)


def cmd_node(args: argparse.Namespace) -> int:
    from mallee.node.agent import run_node

    return run_node(_settings(args))


def cmd_storage(args: argparse.Namespace) -> int:
    from mallee.storage.agent import run_storage

    return run_storage(_settings(args))


def cmd_netns(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from mallee.node.agent import node_name
    from mallee.node.network.identity import cloud_id
    from mallee.node.network.names import netns_for, public_netns_for
    from mallee.store import Store

    settings = _settings(args)
    store = Store(settings.database_url)
    try:
        cloud = cloud_id(store)
    except (RuntimeError, SQLAlchemyError):
        print("mallee netns: no cloud there yet (`mallee init` or `mallee up` makes one)",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        store.dispose()
    node = args.node or node_name(settings)
    print(public_netns_for(cloud) if args.public else netns_for(cloud, node))
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from mallee.cli.debian_image import register_debian_image
    from mallee.images.cli import main as image_main

    return image_main(args.image_args, lambda image: register_debian_image(_settings(args), image))


def cmd_init(args: argparse.Namespace) -> int:
    from mallee.cli.up import init

    eucarc, emi = init(_settings(args))
    print(f"admin credentials: {eucarc}\ndefault image: {emi}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from mallee.cli.up import up

    return up(_settings(args))


def cmd_down(args: argparse.Namespace) -> int:
    from mallee.cli.up import down

    return down(_settings(args))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mallee", description=__doc__)
    p.add_argument("--data-dir", help="state directory (env MALLEE_DATA_DIR)")
    p.add_argument("--db-url", help="SQLAlchemy URL; default SQLite in the data dir")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve every AWS API on one port")
    api.add_argument("--host", help="listen address (default 127.0.0.1)")
    api.add_argument("--port", type=int, help="listen port (default 8773)")
    api.add_argument("--console-port", type=int, help=CONSOLE_PORT_HELP)
    api.add_argument("--name", help="name in the service registry")
    api.add_argument("--workers", type=int, default=1, help="server processes")
    api.set_defaults(func=cmd_api)

    ctl = sub.add_parser("controller", help="scheduler and instance state machine (CLC/CC)")
    ctl.add_argument("--name", help="name in the service registry")
    ctl.set_defaults(func=cmd_controller)

    node = sub.add_parser("node", help="node controller: runs this host's VMs (NC + eucanetd)")
    node.add_argument("--name", help="name in the service registry (default node-<host>)")
    node.set_defaults(func=cmd_node)

    storage = sub.add_parser(
        "storage", help="storage controller: EBS volumes of this zone, exported over NBD (SC)"
    )
    storage.add_argument("--name", help="name in the service registry (default storage-<host>)")
    storage.set_defaults(func=cmd_storage)

    netns = sub.add_parser(
        "netns", help="this cloud's network namespace on this host: the node's, or --public"
    )
    netns.add_argument("--node", help="another node's (default: this host's node)")
    netns.add_argument("--public", action="store_true", help="the outside network's")
    netns.set_defaults(func=cmd_netns)

    img = sub.add_parser("image", help="instance images (build-default, build-debian)")
    img.add_argument("image_args", nargs=argparse.REMAINDER)
    img.set_defaults(func=cmd_image)

    sub.add_parser(
        "init", help="prepare a new cloud: schema, admin account, instance types, default image"
    ).set_defaults(func=cmd_init)

    up = sub.add_parser("up", help="cloud-in-a-box: set up and run every component here")
    up.add_argument("--host", help="listen address (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="listen port (default 8773)")
    up.add_argument("--console-port", type=int, help=CONSOLE_PORT_HELP)
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the cloud-in-a-box `mallee up` started").set_defaults(
        func=cmd_down
    )

    from mallee.cli.admin import add_commands

    add_commands(sub, _settings)

    db = sub.add_parser("db", help="database administration")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply schema migrations").set_defaults(func=cmd_db_upgrade)
    rev = dbsub.add_parser("revision", help="(developers) write a migration for table changes")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=cmd_db_revision)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything is written: the data directory holds every account's secrets.
    private_umask()
    args = _parser().parse_args(argv)
    # These talk to a person: progress and results, not the components' INFO logs.
    quiet = args.command in ("up", "down", "netns", "services", "nodes", "properties", "accounts")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if (getattr(args, "db_command", None) or args.command) in DATA_DIR_COMMANDS:
        try:
            make_private(_settings(args).data_dir)
        except SharedDirectoryError as err:
            print(f"mallee: {err}", file=sys.stderr)
            return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
