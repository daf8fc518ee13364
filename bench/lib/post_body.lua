-- wrk script: POST the file named by $BODY as JSON on every request
-- (bench/ingest.sh, the server's own ingest rate).
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local failed = 0

response = function(status, headers, body)
    if status ~= 200 then
        failed = failed + 1
    end
end

done = function(summary, latency, requests)
    io.write(string.format("requests %d, not 200: %d\n",
                           summary.requests, failed))
end
