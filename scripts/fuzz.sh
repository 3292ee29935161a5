#!/usr/bin/env bash
# Fuzzes keyflow against its own OpenAPI description with schemathesis: every operation gets
# generated requests (valid and invalid), authenticated with a real API key and tenant, and
# every answer is checked: no 5xx, a documented status and content type, a body that fits the
# description. The operations that refuse API keys (key management, the user's own names, a
# token for another tenant) get a second pass with a sign-in token. scripts/schemathesis.toml
# widens the accepted statuses of a few operations whose valid input no schema can state.
#
# Usage: scripts/fuzz.sh [path-to-keyflow-binary] [extra `st run` options...]
#   The binary defaults to target/debug/keyflow. schemathesis is used from PATH (`st`), or
#   installed into a scratch virtualenv with pip. FUZZ_EXAMPLES sets the generated requests
#   per operation and phase (default 300).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
schemathesis_version=4.32.5
examples="${FUZZ_EXAMPLES:-300}"

case "${1:-}" in
-h | --help)
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
binary="${1:-$root/target/debug/keyflow}"
shift $(($# > 0 ? 1 : 0))

# shellcheck source=scripts/lib/server.sh
source "$root/scripts/lib/server.sh"

if command -v st >/dev/null 2>&1 && st --version | grep -q "$schemathesis_version"; then
    st=(st)
else
    venv="$(mktemp -d)"
    server_extra_cleanup+=("$venv")
    echo "Installing schemathesis $schemathesis_version into $venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version" >&2
    st=("$venv/bin/st")
fi

# Generated requests fail authentication on purpose, and start public flows without one; they
# must not spend a budget that would turn the rest of the run into 429s.
server_start "$binary" KEYFLOW_AUTH_FAILURE_BURST=1000000 KEYFLOW_ANONYMOUS_RUN_START_BURST=1000000 \
    KEYFLOW_LOG=warn
base="http://$server_address"

# Reads a JSON document on stdin and prints the value at the path of keys given as arguments.
json_at() {
    python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1:]:
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$@"
}
token=$(curl -sf "$base/api/draw/1/authentication" -H 'content-type: application/json' \
    -d "{\"username\":\"admin@example.com\",\"password\":\"$server_password\"}" | json_at)
tenant=$(curl -sf "$base/api/admin/1/users/me" -H "Authorization: $token" | json_at tenants 0 id)
key=$(curl -sf "$base/api/admin/1/users/me/keys" -H "Authorization: $token" \
    -H 'content-type: application/json' -d "{\"name\":\"fuzz\",\"tenantId\":\"$tenant\"}" |
    json_at apiKey)

# shellcheck disable=SC2054 # the commas separate the phases of one option
common=(--checks all --max-examples "$examples" --seed 4 --workers 1 --no-color
    --phases examples,coverage,fuzzing
    --generation-database none --suppress-health-check all)
status=0
# Left out: installing a service from its connector's URL, which keyflow answers with a
# documented 501 Not Implemented whatever the body (it never calls a connector; docs/API.md
# says why a 5xx). schemathesis flags every 5xx (its `--checks all` outranks a per-operation
# setting), and there is nothing in the body to fuzz: tests/api/clients.rs and the
# conformance test check that answer.
echo "== with an API key and its tenant" >&2
"${st[@]}" --config-file "$root/scripts/schemathesis.toml" run "$base/api/openapi.json" "${common[@]}" \
    -H "x-boomi-flow-api-key: $key" -H "manywhotenant: $tenant" \
    --exclude-path-regex '^/api/admin/1/users/me(/keys.*)?$|^/api/draw/1/authentication/|^/api/draw/1/element/service/install$' \
    "$@" || status=$?
echo "== with a sign-in token: the operations that refuse API keys" >&2
"${st[@]}" --config-file "$root/scripts/schemathesis.toml" run "$base/api/openapi.json" "${common[@]}" \
    -H "Authorization: $token" \
    --include-path-regex '^/api/admin/1/users/me(/keys.*)?$|^/api/draw/1/authentication/' \
    "$@" || status=$?

server_stop
if ((status != 0)); then
    server_show_log
fi
exit "$status"
