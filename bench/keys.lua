-- wrk script: each request presents the next key of a file of `KEY<TAB>TENANT_ID` lines
-- (`wrk ... -s bench/keys.lua URL -- FILE`), so every request checks a different key.
local keys = {}
local next_index = 0

function init(args)
    for line in io.lines(args[1]) do
        local key, tenant = line:match("^(%S+)\t(%S+)$")
        if key then
            keys[#keys + 1] = { key, tenant }
        end
    end
end

function request()
    next_index = next_index % #keys + 1
    local pair = keys[next_index]
    return wrk.format("GET", nil, { ["x-boomi-flow-api-key"] = pair[1], ["manywhotenant"] = pair[2] })
end
