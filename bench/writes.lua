-- wrk script: each request is one write with a name no other request has used
-- (`wrk ... -s bench/writes.lua URL -- KIND[:TENANT_ID]`), with the credential of wrk's -H
-- options:
--   flow:          POST /api/draw/1/flow, a new flow;
--   value:         POST /api/draw/1/element/value, a new value element;
--   key:TENANT_ID: POST /api/admin/1/users/me/keys, a new key of the tenant (with a token).
-- Names are a random prefix (a fresh UUID's first part, one per wrk run) and a counter.
local kind, tenant, prefix
local count = 0

function init(args)
    kind, tenant = args[1]:match("^(%a+):?(.*)$")
    local uuid = io.open("/proc/sys/kernel/random/uuid"):read("*l")
    prefix = uuid:sub(1, 8)
end

local paths = {
    flow = "/api/draw/1/flow",
    value = "/api/draw/1/element/value",
    key = "/api/admin/1/users/me/keys",
}

function request()
    count = count + 1
    local name = string.format("w %s %d", prefix, count)
    local body
    if kind == "flow" then
        body = string.format('{"developerName":"%s","developerSummary":"written by the benchmark"}', name)
    elseif kind == "value" then
        body = string.format('{"developerName":"%s","contentType":"ContentString","defaultContentValue":"%d"}',
            name, count)
    else
        body = string.format('{"name":"%s","tenantId":"%s"}', name, tenant)
    end
    local headers = { ["content-type"] = "application/json" }
    for header, value in pairs(wrk.headers) do
        headers[header] = value
    end
    return wrk.format("POST", paths[kind], headers, body)
end

-- The first refusal is printed, so that a failed run says why.
local shown = false
function response(status, headers, body)
    if status ~= 200 and not shown then
        shown = true
        print("refused: " .. status .. " " .. body)
    end
end
