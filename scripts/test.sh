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
PG_MARKS="not nodb and not dataplane and not clientside"
# The Debian VM modules boot a full Debian under TCG (minutes on one core): the image's start
# the other lane (they build the image); the import's, with other VM modules whose minutes
# would keep this lane past the other, end that lane on SQLite.
DEBIAN_IMAGE=tests/vm/test_debian_image.py
LANE_B_VMS=(tests/vm/test_debian_import.py tests/vm/test_elb_vpc.py)

if [ $# -gt 0 ]; then
  # A narrowed run: the arguments, on SQLite, then on PostgreSQL.
  echo "== tests on SQLite"
  MALLEE_TEST_DB=sqlite "${PYTEST[@]}" "$@"
  echo "== tests on PostgreSQL"
  MALLEE_TEST_DB=postgres "${PYTEST[@]}" -m "$PG_MARKS" "$@"
  exit 0
fi

# The whole run, in two lanes on the two cores (each cloud a test starts has its own data
# dir, namespaces and ports, so the lanes never meet). In the background: the Debian image's
# VM tests, the PostgreSQL pass, the S3 e2e tests again with object data in an independent S3
# server (moto_server, through the s3 backend), then the VM modules of LANE_B_VMS. Here: the
# rest of the SQLite pass.
lanes=$(mktemp -d /tmp/mallee-lanes.XXXXXX)
(
  b=0
  echo "== Debian image VM tests on SQLite"
  MALLEE_TEST_DB=sqlite "${PYTEST[@]}" --basetemp="$lanes/debian" "$DEBIAN_IMAGE" || b=1
  echo "== tests on PostgreSQL"
  MALLEE_TEST_DB=postgres "${PYTEST[@]}" "${SLOWEST[@]}" --basetemp="$lanes/pg" -m "$PG_MARKS" \
    || b=1
  echo "== S3 tests through the s3 backend"
  MALLEE_TEST_DB=sqlite MALLEE_TEST_S3_BACKEND=1 "${PYTEST[@]}" --basetemp="$lanes/s3" \
    -m e2e tests/e2e/test_s3_*.py || b=1
  echo "== VM tests on SQLite: ${LANE_B_VMS[*]}"
  MALLEE_TEST_DB=sqlite "${PYTEST[@]}" "${SLOWEST[@]}" --basetemp="$lanes/vms" "${LANE_B_VMS[@]}" \
    || b=1
  exit "$b"
) > "$lanes/b.log" 2>&1 &
lane_b=$!
status=0
echo "== tests on SQLite (the Debian image's and ${LANE_B_VMS[*]} in the other lane)"
ignored=(--ignore="$DEBIAN_IMAGE")
for module in "${LANE_B_VMS[@]}"; do ignored+=(--ignore="$module"); done
MALLEE_TEST_DB=sqlite "${PYTEST[@]}" "${SLOWEST[@]}" --basetemp="$lanes/sqlite" "${ignored[@]}" \
  || status=1
wait "$lane_b" || status=1
cat "$lanes/b.log"
rm -rf "$lanes"
exit "$status"
