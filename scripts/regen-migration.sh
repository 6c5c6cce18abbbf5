#!/usr/bin/env bash
# (developers, until the first release) Rewrite the newest migration from the tables in code.
#   scripts/regen-migration.sh "ec2 compute"
set -euo pipefail
cd "$(dirname "$0")/.."
msg=$1
slug=$(echo "$msg" | tr ' ' '_')
rm -f src/mallee/store/migrations/versions/*_"$slug".py
PATH="$PWD/.venv/bin:$PATH" mallee db revision -m "$msg"
