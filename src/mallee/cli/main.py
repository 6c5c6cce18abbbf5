"""`mallee`: run the cloud's components and administer it."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mallee.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        db_url=args.db_url,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        service_name=getattr(args, "name", None),
    )


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from mallee.store import Store

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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


def cmd_up(args: argparse.Namespace) -> int:
    from mallee.cli.up import up

    return up(_settings(args))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mallee", description=__doc__)
    p.add_argument("--data-dir", help="state directory (env MALLEE_DATA_DIR)")
    p.add_argument("--db-url", help="SQLAlchemy URL; default SQLite in the data dir")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve every AWS API on one port")
    api.add_argument("--host", help="listen address (default 127.0.0.1)")
    api.add_argument("--port", type=int, help="listen port (default 8773)")
    api.add_argument("--name", help="name in the service registry")
    api.add_argument("--workers", type=int, default=1, help="server processes")
    api.set_defaults(func=cmd_api)

    up = sub.add_parser("up", help="cloud-in-a-box: set up and run every component here")
    up.add_argument("--host", help="listen address (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="listen port (default 8773)")
    up.set_defaults(func=cmd_up)

    db = sub.add_parser("db", help="database administration")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply schema migrations").set_defaults(func=cmd_db_upgrade)
    rev = dbsub.add_parser("revision", help="(developers) write a migration for table changes")
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=cmd_db_revision)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
