# The read endpoints the benchmarks measure, and a tenant to read (sourced after lib.sh).
# One list for every script that measures reads (bench/instructions.sh, bench/run.sh), so a
# read added here is measured by all of them.
#
# reads_setup URL: through the API, as a client would: signs in as the first administrator
# ($TOKEN), makes a key ($KEY) for Example ($TENANT), fills Example with 20 flows (one with a
# graph of 5 map elements, snapshotted and activated) and 20 value elements, and writes
# $WORK/reads.tsv: one read a line, `NAME<TAB>CREDENTIALS<TAB>PATH`, CREDENTIALS being `key token`
# or `token` (the key list is for tokens only: a key never manages keys).

# The tenant's contents, fixed so that every run reads the same bytes.
READ_FLOWS=20
READ_VALUES=20
READ_MAPS=5

# json_field FIELD: prints the field of the JSON object on stdin (a dotted path: id.id).
json_field() {
    python3 -c 'import json,sys
value = json.load(sys.stdin)
for part in sys.argv[1].split("."):
    value = value[part]
print(value)' "$1"
}

# post PATH BODY: POSTs BODY with the token; prints the answer; fails on any status but 200.
post() {
    curl -sf "$READS_URL$1" -H "Authorization: $TOKEN" -H "manywhotenant: $TENANT" \
        -H 'content-type: application/json' -d "$2"
}

reads_setup() {
    READS_URL="$1"
    api_setup "$READS_URL" "$READ_FLOWS"
    TOKEN=$(curl -sf "$READS_URL/api/draw/1/authentication" -H 'content-type: application/json' \
        -d "{\"username\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" | tr -d '"')
    local value=""
    for i in $(seq 1 "$READ_VALUES"); do
        value=$(post /api/draw/1/element/value \
            "{\"developerName\":\"Value $i\",\"contentType\":\"ContentString\",\"defaultContentValue\":\"$i\"}" |
            json_field id)
    done
    # The graph: START, then READ_MAPS - 1 steps in a line.
    local maps="" ids=() i
    for i in $(seq 1 "$READ_MAPS"); do ids+=("$(python3 -c 'import uuid; print(uuid.uuid4())')"); done
    for i in $(seq 0 $((READ_MAPS - 1))); do
        local type=STEP outcome=""
        ((i == 0)) && type=START
        ((i + 1 < READ_MAPS)) && outcome=",\"outcomes\":[{\"developerName\":\"Next\",\"nextMapElementId\":\"${ids[i + 1]}\"}]"
        maps+="${maps:+,}{\"id\":\"${ids[i]}\",\"elementType\":\"$type\",\"developerName\":\"Map $i\",\"x\":$((i * 100)),\"y\":100$outcome}"
    done
    local flow version
    flow=$(post /api/draw/1/flow "{\"developerName\":\"Flow with a graph\",\"mapElements\":[$maps]}" | json_field id.id)
    version=$(post "/api/draw/1/flow/snap/$flow" '"benchmark"' | json_field id.versionId)
    post "/api/draw/1/flow/activation/$flow/$version/true/true" '' >/dev/null
    # The graph flow took the place of one: Example holds READ_FLOWS + 1 flows; one more or
    # less changes no figure.
    local filter
    filter=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("developerName eq '"'"'Flow 7'"'"'"))')
    cat >"$WORK/reads.tsv" <<EOF
flows	key token	/api/draw/1/flow
flows filtered	key token	/api/draw/1/flow?filter=$filter
flow	key token	/api/draw/1/flow/$flow
snapshots	key token	/api/draw/1/flow/snap/$flow
active flows	key token	/api/draw/1/flow/active
graph	key token	/api/draw/1/graph/flow/$flow
values	key token	/api/draw/1/element/value
value	key token	/api/draw/1/element/value/$value
users/me	key token	/api/admin/1/users/me
keys	token	/api/admin/1/users/me/keys
tenant	key token	/api/admin/1/tenant
users	key token	/api/admin/1/users
EOF
}

# credential_header CREDENTIAL: the header that presents it (`key` or `token`).
credential_header() {
    case "$1" in
    key) echo "x-boomi-flow-api-key: $KEY" ;;
    token) echo "Authorization: $TOKEN" ;;
    esac
}

# reads_check: every read answers 200 with every credential it lists (a benchmark of a refusal
# would measure nothing).
reads_check() {
    local name credentials path credential code
    while IFS=$'\t' read -r name credentials path; do
        for credential in $credentials; do
            code=$(curl -s -o /dev/null -w '%{http_code}' "$READS_URL$path" \
                -H "$(credential_header "$credential")" -H "manywhotenant: $TENANT")
            [[ "$code" == 200 ]] || { echo "$name with a $credential answered $code" >&2; exit 1; }
        done
    done <"$WORK/reads.tsv"
}
