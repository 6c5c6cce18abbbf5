#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, types, unit, e2e and VM tests,
# on SQLite and again on PostgreSQL.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== lint and types"
ruff check src tests bench
ruff format --check src tests bench
mypy --strict src/mallee
lint-imports

pgdir=$(mktemp -d /tmp/mallee-pg.XXXXXX)
chmod 755 "$pgdir"
trap 'scripts/pg.sh stop "$pgdir/data"; rm -rf "$pgdir"' EXIT
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MALLEE_TEST_PG_URL=$(scripts/pg.sh start "$pgdir/data" "$port")
export MALLEE_TEST_PG_URL

echo "== tests on SQLite"
MALLEE_TEST_DB=sqlite python -m pytest -q -p no:cacheprovider "$@"
echo "== tests on PostgreSQL"
MALLEE_TEST_DB=postgres python -m pytest -q -p no:cacheprovider -m "not nodb and not dataplane" "$@"
# Once more, only the S3 e2e tests, with object data in an independent S3 server (moto_server)
# through the s3 backend; only when the run was not narrowed to other tests by arguments.
if [ $# -eq 0 ]; then
  echo "== S3 tests through the s3 backend"
  MALLEE_TEST_DB=sqlite MALLEE_TEST_S3_BACKEND=1 python -m pytest -q -p no:cacheprovider \
    -m e2e tests/e2e/test_s3_*.py
fi
