-- wrk script: each request presents a key of a file of `KEY<TAB>TENANT_ID` lines, picked at
-- random with a Zipf-like skew (`wrk ... -s bench/spread.lua URL -- FILE`): the key of rank r
-- is asked with a probability close to 1/r (the rank drawn as exp(u * ln(n + 1)), u uniform),
-- so a few keys are hot and most are cold. The file's first line (Example's key, which the
-- single-key figure uses) is left out; the rest are shuffled with a fixed seed, so the hot
-- keys fall on many tenants and every run draws the same sequence.
-- With the argument `FILE one` (one argument, as bench/lib.sh passes it), every request draws
-- its rank the same way but presents that first key: the single key's figure, paying wrk's
-- scripting as the spread does.
local keys = {}
local log_n
local only

function init(args)
    local file, mode = args[1]:match("^(%S+)%s*(%S*)$")
    local first = true
    for line in io.lines(file) do
        local key, tenant = line:match("^(%S+)\t(%S+)$")
        if key and first and mode == "one" then
            only = { key, tenant }
        elseif key and not first then
            keys[#keys + 1] = { key, tenant }
        end
        first = false
    end
    math.randomseed(22)
    for i = #keys, 2, -1 do
        local j = math.random(i)
        keys[i], keys[j] = keys[j], keys[i]
    end
    log_n = math.log(#keys + 1)
    -- Each key's request is formatted once, here: formatting it at every request made wrk,
    -- which shares the machine, the spread's bottleneck.
    local format = function(pair)
        return wrk.format("GET", nil, { ["x-boomi-flow-api-key"] = pair[1], ["manywhotenant"] = pair[2] })
    end
    for i = 1, #keys do
        keys[i] = format(keys[i])
    end
    if only then
        only = format(only)
    end
end

function request()
    local rank = math.floor(math.exp(math.random() * log_n))
    return only or keys[math.min(rank, #keys)]
end
