#!/usr/bin/env bash
# Set up everything and start the cloud-in-a-box on http://127.0.0.1:8773 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/mallee up "$@"
