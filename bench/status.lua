-- wrk script: counts the answers by status, and the 503s that carry Retry-After; an optional
-- path (`wrk ... -s bench/status.lua URL -- PATH`) replaces the URL's.
-- `counts` is global: done() reads each thread's copy with thread:get.
counts = {}
local threads = {}
local path = nil

function setup(thread)
    threads[#threads + 1] = thread
end

function init(args)
    path = args[1]
    counts = { retry_after = 0 }
end

function request()
    return wrk.format(nil, path)
end

function response(status, headers, body)
    counts[status] = (counts[status] or 0) + 1
    if status == 503 and (headers["retry-after"] or headers["Retry-After"]) then
        counts.retry_after = counts.retry_after + 1
    end
end

function done(summary, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for status, n in pairs(thread:get("counts")) do
            total[status] = (total[status] or 0) + n
        end
    end
    local line = "statuses:"
    for status, n in pairs(total) do
        line = line .. " " .. status .. "=" .. n
    end
    print(line)
end
