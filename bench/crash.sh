#!/usr/bin/env bash
# Crash safety: concurrent writers create keys and flows, the server is killed with SIGKILL at a
# random moment, restarted on the same data directory, and every write it acknowledged must be
# there (keys must still authenticate). Usage: bench/crash.sh [ROUNDS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
cargo build --quiet --bin keyflow
cargo run --quiet --example crash -- --binary target/debug/keyflow --rounds "$rounds"
