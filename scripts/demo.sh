#!/usr/bin/env bash
# README command 1: install, then run the embedded demo (SQLite, local encrypted blobs, built-in search):
# imports and scans the sample WeCom archive and serves API + console on http://127.0.0.1:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export CHATVAULT_DATA_DIR="${CHATVAULT_DATA_DIR:-$PWD/.demo-data}"
exec .venv/bin/chatvault demo "$@"
