#!/usr/bin/env bash
# Scale: seeds 1,000,000 keys over 10,000 tenants (timed; the target is under 5 minutes) and
# 1,000 keys over 10 tenants, then measures on each, with the same wrk load:
#   - uncached verification: every request presents a different key (bench/keys.lua) to a
#     server whose key cache holds nothing (--key-cache-capacity 0), so each check reads the
#     digest index;
#   - the authenticated list: GET /api/draw/1/flow with one key (cached) for a tenant of 20 flows;
#   - resident memory (anonymous, file-backed, proportional) after 200,000 different keys were
#     checked, with a key cache of 1,000 and of 100,000 entries: the cache setting bounds it.
#   bench/scale.sh [KEYS] [TENANTS] [DURATION]     (default: 1000000 10000 5s)
# Needs wrk (apt-get install -y wrk); builds keyflow --release. Takes a few minutes.
source "$(dirname "$0")/lib.sh"
keys="${1:-1000000}" tenants="${2:-10000}" duration="${3:-5s}"
need wrk wrk
build_keyflow

echo "machine: $(machine)" >&2
started=$(date +%s.%N)
"$SEED_BIN" --data-dir "$WORK/big" --keys "$keys" --tenants "$tenants" \
    --flows 20 --samples 200000 --keys-out "$WORK/big.keys" >&2
seeded=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.0f", e - s}')
echo "seeding $keys keys over $tenants tenants: $seeded s ($(du -sh "$WORK/big" | cut -f1) on disk)" >&2
"$SEED_BIN" --data-dir "$WORK/small" --keys 1000 --tenants 10 \
    --flows 20 --samples 1000 --keys-out "$WORK/small.keys" >/dev/null

load() { # load NAME URL [WRK_OPTIONS...] [-- SCRIPT_ARGS...]: one wrk run; echoes "rps p50 p99"
    local name="$1" url="$2"; shift 2
    local options=() script_args=()
    while (($#)); do
        if [[ "$1" == -- ]]; then shift; script_args=("$@"); break; fi
        options+=("$1"); shift
    done
    # A first run warms the caches (the database's pages, mapped per connection); the second counts.
    for _ in warm measure; do
        wrk_run "$WORK/$name.txt" -t1 -c64 "-d$duration" "${options[@]}" "$url/api/draw/1/flow" \
            ${script_args[@]+-- "${script_args[@]}"}
    done
    [[ "$(wrk_field "$WORK/$name.txt" non2xx)" == 0 ]] || { cat "$WORK/$name.txt" >&2; exit 1; }
    echo "$(wrk_field "$WORK/$name.txt" rps) $(wrk_field "$WORK/$name.txt" p50) $(wrk_field "$WORK/$name.txt" p99)"
}
metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

declare -A uncached cached
for size in small big; do
    read -r key tenant < <(head -1 "$WORK/$size.keys")
    start_keyflow "$size-uncached" "$WORK/$size" --key-cache-capacity 0
    uncached[$size]=$(load "$size-uncached" "$URL" -s "$ROOT/bench/keys.lua" -- "$WORK/$size.keys") || exit 1
    echo "$size, uncached: $(metric "$URL" keyflow_key_store_lookups_total) storage lookups, $(metric "$URL" keyflow_key_cache_hits_total) cache hits" >&2
    stop_last
    start_keyflow "$size-cached" "$WORK/$size"
    cached[$size]=$(load "$size-cached" "$URL" -H "x-boomi-flow-api-key: $key" -H "manywhotenant: $tenant") || exit 1
    stop_last
done

declare -A rss
for capacity in 1000 100000; do
    start_keyflow "rss-$capacity" "$WORK/big" --key-cache-capacity "$capacity"
    before=$(memory_mib "$LAST_PID")
    wrk_run "$WORK/rss-$capacity.txt" -t1 -c64 -d15s -s "$ROOT/bench/keys.lua" "$URL/api/draw/1/flow" -- "$WORK/big.keys"
    hits=$(metric "$URL" keyflow_key_cache_hits_total)
    rss[$capacity]="$before $(memory_mib "$LAST_PID") $(wrk_field "$WORK/rss-$capacity.txt" rps) $hits"
    stop_last
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() { # row LABEL "small rps p50 p99" "big rps p50 p99"
    read -r s_rps s_p50 s_p99 <<<"$2"; read -r b_rps b_p50 b_p99 <<<"$3"
    echo "| $1 | $s_rps req/s, p50 $s_p50 ms, p99 $s_p99 ms | $b_rps req/s, p50 $b_p50 ms, p99 $b_p99 ms | $(ratio "$s_rps" "$b_rps")× |"
}
echo "| measure | 1,000 keys | $keys keys | slowdown (req/s) |"
echo "|---|---|---|---:|"
row "uncached verification (+ list)" "${uncached[small]}" "${uncached[big]}"
row "authenticated list (cached key)" "${cached[small]}" "${cached[big]}"
echo
echo "Resident memory (MiB) of the server holding $keys keys, at start and after 15 s of requests cycling"
echo "through 200,000 different keys. Anonymous memory is the server's own (key cache, buffers); file"
echo "pages are the database's memory map (the kernel's page cache, clean and shared, counted once per"
echo "connection that maps them); PSS divides shared pages among their users; the page cache is what"
echo "large cached answers hold beside them (src/page_bodies.rs)."
echo
echo "| key cache capacity | at start: anon / file / PSS / page cache | after: anon / file / PSS / page cache | req/s | cache hits |"
echo "|---:|---:|---:|---:|---:|"
for capacity in 1000 100000; do
    read -r a0 f0 p0 g0 a1 f1 p1 g1 rate hits <<<"${rss[$capacity]}"
    echo "| $capacity | $a0 / $f0 / $p0 / $g0 | $a1 / $f1 / $p1 / $g1 | $rate | $hits |"
done
echo
echo "seeding: $seeded s for $keys keys over $tenants tenants"
