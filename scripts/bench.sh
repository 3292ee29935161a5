#!/usr/bin/env bash
# Runs the key verification benchmarks (benches/key_verification.rs) and rewrites
# docs/BENCHMARKS.md with the machine they ran on, the exact command, each benchmark's
# median as a ratio to the plain SHA-256 baseline measured in the same run, whether the
# targets hold (a cached verification under 2 µs median, a cache miss under 100 µs), and how
# close the refusals of an unknown, a misdirected and a deleted key come to each other.
#
# Usage: scripts/bench.sh
#   About two minutes of measuring once built (the first release build takes a few
#   minutes more). Criterion's report goes to the terminal; its raw figures stay under
#   target/criterion/. The targets are reported, never enforced: the exit status is cargo's.
#   Needs jq.
#
# The Markdown written below is full of backticks that must stay literal:
# shellcheck disable=SC2016
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
doc="$root/docs/BENCHMARKS.md"
bench_command=(cargo bench --bench key_verification -- --noplot)
cached_target_ns=2000
miss_target_ns=100000

case "${1:-}" in
-h | --help)
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*)
    echo "error: scripts/bench.sh takes no arguments (a filtered run would leave gaps in the table)" >&2
    exit 2
    ;;
esac
if ! command -v jq >/dev/null; then
    echo "error: jq is needed to read criterion's estimates" >&2
    exit 2
fi

cd "$root"
target_dir="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
criterion_dir="$target_dir/criterion"

# Only estimates written by this run count: older ones may be from renamed benchmarks.
marker="$(mktemp)"
# The bench writes its interleaved comparison of the refusals here.
interleaved_file="$(mktemp)"
trap 'rm -f "$marker" "$interleaved_file"' EXIT
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# The machine may be shared: its load says how much to trust the absolute figures.
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
KEYFLOW_BENCH_INTERLEAVED="$interleaved_file" "${bench_command[@]}"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# Every benchmark of the run as `group/function<TAB>median<TAB>lower<TAB>upper` (ns).
results="$(
    find "$criterion_dir" -path '*/new/estimates.json' -newer "$marker" | sort |
        while read -r estimates; do
            id="$(jq -r '.group_id + "/" + .function_id' "$(dirname "$estimates")/benchmark.json")"
            jq -r --arg id "$id" '[$id, .median.point_estimate,
                .median.confidence_interval.lower_bound,
                .median.confidence_interval.upper_bound] | @tsv' "$estimates"
        done
)"

median_of() {
    awk -F'\t' -v id="$1" '$1 == id { print $2; found = 1 } END { exit !found }' <<<"$results" ||
        {
            echo "error: the run produced no estimate for $1" >&2
            exit 1
        }
}

# Nanoseconds with a unit that keeps three or four significant figures.
human() {
    awk -v ns="$1" 'BEGIN {
        if (ns < 1000) printf "%.1f ns", ns
        else if (ns < 1000000) printf "%.2f µs", ns / 1000
        else printf "%.2f ms", ns / 1000000
    }'
}

baseline_id="baseline/sha256_35B"
baseline_ns="$(median_of "$baseline_id")"
cached_ns="$(median_of hot_path/verify_cached)"
miss_ns="$(median_of miss/verify_miss)"
block_on_ns="$(median_of baseline/block_on_empty)"

describe() {
    case "$1" in
    baseline/sha256_35B) echo 'SHA-256 of a 35-byte key (`sha2::Sha256::digest`): the floor of any digest-based check. **The baseline: every ratio is to this.**' ;;
    baseline/hashmap_get) echo '`std` `HashMap<[u8; 32], KeyGrant>` (SipHash) holding the digests of 90,000 of the stored keys: `get` and clone, cycling through them' ;;
    baseline/cache_get) echo 'a `quick_cache::sync::Cache` built as `KeyVerifier::new` builds it (capacity 100,000) holding the same 90,000 grants: `get`, cycling through them' ;;
    baseline/moka_get) echo 'the `moka::sync::Cache` the verifier used before (capacity 100,000, 10-minute TTL) holding the same 90,000 grants: `get`, cycling through them; for comparison' ;;
    baseline/block_on_empty) echo '`block_on(async {})` on a current-thread tokio runtime: the driver overhead included in `verify_cached` and `verify_miss`' ;;
    hot_path/parse) echo '`ApiKey::parse`: length, prefix, base62 and the CRC32 checksum' ;;
    hot_path/hmac) echo '`Hasher::digest`: HMAC-SHA256 of the key under the pepper' ;;
    hot_path/verify_cached) echo '`KeyVerifier::verify` answered from the cache (capacity 100,000, holding 90,000 grants: quick_cache'"'"'s capacity is approximate, and filled to exactly 100,000 it would evict a few), cycling through those keys, driven by `block_on`' ;;
    hot_path/verify_cached_poll_once) echo 'the same verification polled once with a no-op waker: `verify` without any runtime' ;;
    hot_path/verify_cached_one_key) echo 'as `verify_cached`, but the same key every call, so its memory stays in the CPU caches: the best case' ;;
    miss/verify_miss) echo '`KeyVerifier::verify` on a verifier with cache capacity 0: every call asks SQLite (100,000 keys) for the digest, cycling through the keys, driven by `block_on`' ;;
    refusal/unknown) echo 'a refusal: `KeyVerifier::verify_for` of keys with a valid checksum that were never issued (1,000, cycled), on a verifier of the default capacity' ;;
    refusal/other_tenant) echo 'a refusal: live keys that the cache holds (1,000, cycled) sent with another tenant'"'"'s id' ;;
    refusal/deleted) echo 'a refusal: keys stored, verified, then deleted with the revocation that drops the cache (1,000, cycled)' ;;
    *) echo '(not described in scripts/bench.sh)' ;;
    esac
}

verdict() { # id target: the median against the target, and whether its 95% CI clears it
    awk -F'\t' -v id="$1" -v t="$2" '$1 == id {
        if ($2 < t) printf "**holds**, at %.0f%% of the target", 100 * $2 / t
        else printf "**does not hold**, at %.0f%% of the target", 100 * $2 / t
        if ($4 < t) printf " (the whole 95%% CI is under it)"
        else if ($3 >= t) printf " (the whole 95%% CI is over it)"
        else printf " (the 95%% CI straddles it)"
    }' <<<"$results"
}

# The table's order: baselines, the hot path step by step, the miss. A benchmark not listed
# here still gets a row, at the end.
order=(
    baseline/sha256_35B baseline/hashmap_get baseline/cache_get baseline/moka_get baseline/block_on_empty
    hot_path/parse hot_path/hmac hot_path/verify_cached hot_path/verify_cached_poll_once
    hot_path/verify_cached_one_key miss/verify_miss
    refusal/unknown refusal/other_tenant refusal/deleted
)
ordered="$(
    for id in "${order[@]}"; do
        awk -F'\t' -v id="$id" '$1 == id' <<<"$results"
    done
    awk -F'\t' -v listed="${order[*]}" '
        BEGIN { n = split(listed, ids, " "); for (i = 1; i <= n; i++) known[ids[i]] = 1 }
        !($1 in known)' <<<"$results"
)"
rows="$(
    while IFS=$'\t' read -r id median lower upper; do
        ratio="$(awk -v m="$median" -v b="$baseline_ns" 'BEGIN { printf "%.2f", m / b }')"
        printf '| `%s` | %s | %s – %s | %s | %s |\n' "$id" "$(human "$median")" \
            "$(human "$lower")" "$(human "$upper")" "$ratio" "$(describe "$id")"
    done <<<"$ordered"
)"

commit="$(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')"
if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
    commit="$commit, with uncommitted changes"
fi
cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
cpu_cache="$(grep -m1 '^cache size' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
parse_ns="$(median_of hot_path/parse)"
hmac_ns="$(median_of hot_path/hmac)"
cache_ns="$(median_of baseline/cache_get)"
moka_ns="$(median_of baseline/moka_get)"
polled_ns="$(median_of hot_path/verify_cached_poll_once)"
one_key_ns="$(median_of hot_path/verify_cached_one_key)"
steps_ns="$(awk -v a="$parse_ns" -v b="$hmac_ns" -v c="$cache_ns" 'BEGIN { print a + b + c }')"
block_on_share="$(awk -v b="$block_on_ns" -v c="$cached_ns" 'BEGIN { printf "%.0f", 100 * b / c }')"
if [[ ! -s "$interleaved_file" ]]; then
    echo "error: the run wrote no interleaved comparison of the refusals" >&2
    exit 1
fi
# `refusal/KIND<TAB>median ns<TAB>ratio to the first kind: median<TAB>first quartile<TAB>third quartile`
interleaved_rows="$(
    while IFS=$'\t' read -r id median ratio q1 q3; do
        alone="$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' <<<"$results")"
        printf '| `%s` | %s | %s | %s – %s | %s |\n' "$id" "$(human "$median")" "$ratio" "$q1" "$q3" \
            "$([[ -n "$alone" ]] && human "$alone" || echo '—')"
    done <"$interleaved_file"
)"
# The furthest any kind's median ratio is from 1, as a factor, and whether every such
# difference is smaller than half the spread (between the quartiles) of its own ratios.
worst_ratio="$(awk -F'\t' '{ r = $3 < 1 ? 1 / $3 : $3; if (r > w) w = r } END { printf "%.2f", w }' "$interleaved_file")"
within_noise="$(awk -F'\t' '{ d = $3 - 1; if (d < 0) d = -d; if (d >= ($5 - $4) / 2 && $5 > $4) out = 1 }
    END { print (out ? "larger" : "smaller") }' "$interleaved_file")"

{
    cat <<'EOF'
# Benchmarks

Written by `scripts/bench.sh`; do not edit by hand, run the script again. Timings are
benchmarks, never test assertions. Figures from different machines or runs
are compared through their **ratios**: each median divided by the median of the plain
SHA-256 baseline measured in the same run.

The server under load — throughput against an axum floor and nginx, a million keys, 2,000
connections, crash safety — is in [BENCHMARKS-load.md](BENCHMARKS-load.md) (`bench/`).

## Key verification

The hot path of a key check: parse and checksum, HMAC, the in-process cache, storage on a
miss. The store is SQLite in a temporary directory (WAL, `synchronous=FULL`, as the server
opens it) seeded with 100,000 keys of one user through `KeyStore::insert_keys`, 10,000 per
transaction. The benchmarks run on one current-thread tokio runtime; SQLite's connection
worker threads are sqlx's own.

EOF
    echo "### Machine"
    echo
    echo "- CPU: $cpu (cache size ${cpu_cache:-not stated}), \`nproc\` = $(nproc)"
    echo "- OS: $(uname -srm)"
    echo "- Rust: $(rustc --version)"
    echo "- Run: $started, keyflow at $commit"
    echo "- Load average (1, 5, 15 min): $load_before before the run, $load_after after it." \
        "Anything near or above the core count means other work shared the CPUs and the" \
        "absolute figures are pessimistic; the ratios, measured under the same load, compare better."
    echo
    echo "### Command"
    echo
    echo '```sh'
    echo 'scripts/bench.sh'
    echo '# which runs:'
    echo "${bench_command[*]}"
    echo '```'
    echo
    echo "### Results"
    echo
    echo "Medians of criterion's samples, with the 95% confidence interval of the median."
    echo
    echo '| Benchmark | Median | 95% CI | Ratio to baseline | What it measures |'
    echo '|---|---:|---:|---:|---|'
    echo "$rows"
    echo
    echo "### Targets"
    echo
    echo "- A cached verification under 2 µs median: \`hot_path/verify_cached\` is $(human "$cached_ns"):" \
        "$(verdict hot_path/verify_cached "$cached_target_ns"). It includes the \`block_on\` driver" \
        "($(human "$block_on_ns"), about $block_on_share% of it), which a server already inside" \
        "its runtime does not pay."
    echo "- A cache miss under 100 µs median: \`miss/verify_miss\` is $(human "$miss_ns"):" \
        "$(verdict miss/verify_miss "$miss_target_ns")."
    echo
    echo "### Where the time goes"
    echo
    echo "- Parse ($(human "$parse_ns")), HMAC ($(human "$hmac_ns")) and the cache's own \`get\`" \
        "($(human "$cache_ns")) add up to $(human "$steps_ns"); the whole cached verification" \
        "without a runtime (\`verify_cached_poll_once\`) takes $(human "$polled_ns")." \
        "The moka cache the verifier used before takes $(human "$moka_ns") for the same \`get\`."
    echo "- The same verification of one key over and over (\`verify_cached_one_key\`, whose" \
        "memory stays in the CPU caches) takes $(human "$one_key_ns"), \`block_on\` included." \
        "The difference from \`verify_cached\` is mostly memory latency: a call for a key not seen" \
        "recently reads its grant from a table of 90,000 entries that does not fit the CPU" \
        "caches. The cycled figures are the ones to hold against the target."
    echo
    echo "### Refusals take one path"
    echo
    echo "Past the checksum every refused key — unknown, deleted, or live but sent with another" \
        "tenant's id — is looked up in storage once and refused with the same 401 and message" \
        "(\`src/auth/verifier.rs\`). Before, a live key with another tenant's id was refused" \
        "from the cache (about \`hot_path/verify_cached\`, $(human "$cached_ns") here) while an" \
        "unknown key asked storage (about \`miss/verify_miss\`, $(human "$miss_ns")): a" \
        "refusal's time told a live key from a dead one."
    echo
    echo "Criterion measures the three kinds one after the other, so a change in the machine's" \
        "load between them shows as a difference that is not theirs. The bench therefore also" \
        "runs them in turns: 6,000 rounds, each timing 10 refusals of every kind in an order" \
        "that rotates, and compares each kind with the unknown key within the same round;" \
        "first cycling through 1,000 keys of each kind, then with one key of each kind over and" \
        "over, as an attacker probing one key would (\`*_one_key\`):"
    echo
    echo "| Refusal | Median per call, in turns | Ratio to the unknown key in the same round: median | quartiles | Criterion's median, alone |"
    echo "|---|---:|---:|---:|---:|"
    echo "$interleaved_rows"
    echo
    echo "How close: taken in turns, each refusal's median ratio to the unknown key is within a" \
        "factor of $worst_ratio of it (1.00 would be equal), against about" \
        "$(awk -v m="$miss_ns" -v c="$cached_ns" 'BEGIN { printf "%.0f", m / c }') before" \
        "(\`miss/verify_miss\` to \`hot_path/verify_cached\`); each of those differences is" \
        "$within_noise than half the spread between the quartiles of the same ratios. The one" \
        "difference left in the work is storage's answer: a live key's row is read, decoded and" \
        "offered to the cache again, where an unknown or deleted key has no row."
    echo
    cat <<'EOF'
### How the benchmarks make sure they measure what they say

- **Hits are hits.** Before `hot_path/verify_cached` each of the 90,000 keys it cycles through
  is verified once, so the cache (the server's default capacity, 100,000) holds every one of
  their grants. After the group the
  benchmark checks the verifier's `Metrics`: `key_store_lookups` did not move and
  `key_cache_hits` rose by exactly the number of calls. `verify_cached_poll_once` would
  panic if a verification ever waited.
- **Misses go to storage.** `miss/verify_miss` uses a second verifier built with cache
  capacity 0 and cycles through all 100,000 keys, so consecutive calls never repeat a key.
  After the group it checks that `key_cache_hits` is 0 and `key_store_lookups` equals the
  number of calls, and that a miss finds the grant (`KeyCheck::Valid`). The miss still
  pays for offering the grant to the cache, as a real miss does.
- **Refusals are refusals, by one path.** Each `refusal/*` benchmark checks that every call
  was refused (`KeyCheck::Refused`) and that `key_store_lookups` rose by exactly the number of
  calls; after the group, every live key of `other_tenant` is still in the cache, so its
  refusals began with a cache hit. Each kind cycles through as many keys (1,000).
- Keys are cycled rather than repeated in every keyed benchmark, so no one key's cache
  lines or pages stay hot.
- `cargo test --benches` runs each routine once as a smoke test and seeds only 1,000 keys.
EOF
} >"$doc"

echo "wrote ${doc#"$root"/}" >&2
