#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, types, unit, e2e and VM tests,
# on SQLite and again on PostgreSQL (see README: the whole run uses two lanes).  Extra arguments
# go to pytest.
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

PYTEST=(python -m pytest -q -p no:cacheprovider)
# The whole run prints its slowest tests, to keep the lanes balanced under the hour.
SLOWEST=(--durations=12)
PG_MARKS="not nodb and not dataplane"
# The Debian VM modules boot a full Debian under TCG (ten minutes on one core): one starts
# the other lane (it builds the image), the other ends this one (the image built by then).
DEBIAN=(tests/vm/test_debian_image.py tests/vm/test_debian_import.py)

if [ $# -gt 0 ]; then
  # A narrowed run: the arguments, on SQLite, then on PostgreSQL.
  echo "== tests on SQLite"
  MALLEE_TEST_DB=sqlite "${PYTEST[@]}" "$@"
  echo "== tests on PostgreSQL"
  MALLEE_TEST_DB=postgres "${PYTEST[@]}" -m "$PG_MARKS" "$@"
  exit 0
fi

# The whole run, in two lanes on the two cores (each cloud a test starts has its own data
# dir, namespaces and ports, so the lanes never meet): the Debian image's VM tests and then the
# PostgreSQL pass in the background; the rest of the SQLite pass, the S3 pass and the Debian
# import VM tests here.
lanes=$(mktemp -d /tmp/mallee-lanes.XXXXXX)
(
  set +e
  echo "== Debian image VM tests on SQLite"
  MALLEE_TEST_DB=sqlite "${PYTEST[@]}" --basetemp="$lanes/debian" "${DEBIAN[0]}" || exit 1
  echo "== tests on PostgreSQL"
  MALLEE_TEST_DB=postgres "${PYTEST[@]}" "${SLOWEST[@]}" --basetemp="$lanes/pg" -m "$PG_MARKS" \
    || exit 1
) > "$lanes/b.log" 2>&1 &
lane_b=$!
status=0
echo "== tests on SQLite (the Debian VM tests after)"
MALLEE_TEST_DB=sqlite "${PYTEST[@]}" "${SLOWEST[@]}" --basetemp="$lanes/sqlite" \
  --ignore="${DEBIAN[0]}" --ignore="${DEBIAN[1]}" || status=1
# Once more, only the S3 e2e tests, with object data in an independent S3 server (moto_server)
# through the s3 backend.
echo "== S3 tests through the s3 backend"
MALLEE_TEST_DB=sqlite MALLEE_TEST_S3_BACKEND=1 "${PYTEST[@]}" --basetemp="$lanes/s3" \
  -m e2e tests/e2e/test_s3_*.py || status=1
echo "== Debian import VM tests on SQLite"
MALLEE_TEST_DB=sqlite "${PYTEST[@]}" --basetemp="$lanes/debian-import" "${DEBIAN[1]}" || status=1
wait "$lane_b" || status=1
cat "$lanes/b.log"
rm -rf "$lanes"
exit "$status"
