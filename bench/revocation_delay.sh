#!/usr/bin/env bash
# Revocation between instances: two keyflow instances (A, B) on one fresh PostgreSQL database;
# for each of N keys, created through A and verified on B (cached there), deleted through A,
# then asked of B until B refuses it. Prints the delay from A's answer to B's first 401: p50,
# p90, p99, max (examples/revocation_delay.rs measures; this script builds and starts it all).
#   bench/revocation_delay.sh [N]   (default 200)
# Both instances run with their default settings but --auth-failure-burst (B refuses N keys to
# one address). Needs PostgreSQL at $PGHOST:$PGPORT (default 127.0.0.1:5432), user $PGUSER
# (postgres) without a password; builds keyflow --release (KEYFLOW_BIN=path runs another build
# instead) and the example.
source "$(dirname "$0")/lib.sh"
keys="${1:-200}"
need curl curl
need python3 python3
build_server
(cd "$ROOT" && cargo build --quiet --release --example revocation_delay)

postgres_database
start_shared a --auth-failure-burst 1000000
a="$URL"
start_shared b --auth-failure-burst 1000000
b="$URL"

echo "machine: $(machine)" >&2
echo "commit: $(commit_line)" >&2
echo "command: bench/revocation_delay.sh $keys (A on $a, B on $b, PostgreSQL $(psql -d postgres -qtAc 'show server_version'))" >&2
"$ROOT/target/release/examples/revocation_delay" --a "$a" --b "$b" --password "$ADMIN_PASSWORD" --keys "$keys"
