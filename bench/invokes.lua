-- wrk script: runs a flow (`wrk -tN -cN ... -s bench/invokes.lua URL -- "MODE FLOW PAGE
-- TO_STEP STEP TO_PAGE"`, one connection per thread: each thread keeps one state).
--   MODE invoke: starts a state (POST /api/run/1), then invokes it on forever (POST
--     /api/run/1/state/{id}, FORWARD with the current element's outcome): the page PAGE goes
--     to the step STEP by the outcome TO_STEP, the step back to the page by TO_PAGE, each
--     invoke sent with the stateToken of the answer before;
--   MODE start: every request starts a new state.
local mode, flow, page, to_step, to_page
local state, token, current

function init(args)
    local words = {}
    for word in args[1]:gmatch("%S+") do
        words[#words + 1] = word
    end
    mode, flow, page, to_step, to_page = words[1], words[2], words[3], words[4], words[6]
end

local function post(path, body)
    local headers = { ["content-type"] = "application/json" }
    for header, value in pairs(wrk.headers) do
        headers[header] = value
    end
    return wrk.format("POST", path, headers, body)
end

function request()
    if mode == "start" or not state then
        return post("/api/run/1", string.format('{"flowId":{"id":"%s"}}', flow))
    end
    local outcome = (current == page) and to_step or to_page
    return post("/api/run/1/state/" .. state, string.format(
        '{"invokeType":"FORWARD","stateToken":"%s","mapElementInvokeRequest":{"selectedOutcomeId":"%s"}}',
        token, outcome))
end

function response(status, headers, body)
    if status ~= 200 then
        state = nil -- start again
        return
    end
    state = body:match('"stateId":"([^"]+)"')
    token = body:match('"stateToken":"([^"]+)"')
    current = body:match('"currentMapElementId":"([^"]+)"')
end
