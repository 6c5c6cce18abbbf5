#!/usr/bin/env bash
# Refresh uv.lock on purpose, then run scripts/test.sh and commit uv.lock with what it needs.
#   scripts/lock.sh                            every package to its newest release in range
#   scripts/lock.sh --keep                     after an edit of pyproject.toml: add and drop
#                                              what changed, keep every other pin
#   scripts/lock.sh --upgrade-package boto3    any other arguments go to `uv lock`
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || scripts/setup.sh >/dev/null
export UV_PYTHON_DOWNLOADS=never
case "${1:-}" in
"") set -- --upgrade ;;
--keep) shift ;;
esac
exec .venv/bin/uv lock "$@"
