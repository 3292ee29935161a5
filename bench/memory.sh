#!/usr/bin/env bash
# Memory bounded by the cache settings (issue 22): TENANTS tenants of 20 flows each, one key
# each; a server reads every tenant's flow list, each of its flows, its value elements, the
# tenant and users/me (bench/read_all.py), twice (the second pass finds them cached), and its
# resident memory (from /proc: anonymous / file-backed / proportional, MiB) and the page cache
# its large answers hold (the memory file of src/page_bodies.rs, MiB) are taken before and
# after, first with the default settings, then with small ones, which must bound them.
#   bench/memory.sh [sqlite|postgres] [TENANTS] [SMALL_FLAGS]
#        (default: sqlite 1000 "--read-cache-mib 4 --credential-cache-capacity 100 --key-cache-capacity 100")
# Needs python3; builds keyflow --release.
source "$(dirname "$0")/lib.sh"
backend="${1:-sqlite}" tenants="${2:-1000}"
small="${3:---read-cache-mib 4 --credential-cache-capacity 100 --key-cache-capacity 100}"
build_keyflow
case "$backend" in
sqlite) DB_URL="" ;;
postgres) postgres_database ;;
*) echo "usage: $0 [sqlite|postgres] [TENANTS] [SMALL_FLAGS]" >&2; exit 2 ;;
esac
seed_tenants "$WORK/data" "$tenants" "$tenants" >&2

echo "machine: $(machine)" >&2
echo "| $backend, $tenants tenants | at start: anon / file / PSS / page cache | after the reads: anon / file / PSS / page cache | reads a pass | bytes of answers a pass | second pass s |"
echo "|---|---:|---:|---:|---:|---:|"
for setting in default small; do
    flags=()
    [[ "$setting" == small ]] && read -ra flags <<<"$small"
    start_keyflow "memory-$setting" "$WORK/data" --workers 1 ${flags[@]+"${flags[@]}"}
    before=$(memory_mib "$LAST_PID")
    python3 "$ROOT/bench/read_all.py" "$URL" "$WORK/data.keys" >/dev/null
    started=$(date +%s.%N)
    read -r requests bytes < <(python3 "$ROOT/bench/read_all.py" "$URL" "$WORK/data.keys")
    took=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
    after=$(memory_mib "$LAST_PID")
    label="default settings"
    [[ "$setting" == small ]] && label="$small"
    echo "| $label | ${before// / \/ } | ${after// / \/ } | $requests | $bytes | $took |"
    stop_last
done
echo
echo "defaults: --read-cache-mib 128 --credential-cache-capacity 20000 --key-cache-capacity 100000; one worker"
echo "$(commit_line)"
