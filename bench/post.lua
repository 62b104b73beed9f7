-- bench/post.lua: wrk script for bench/hook.sh.
--
-- POSTs the JSON body in the file named by $BODY_FILE with the headers WCS
-- sends (keep-alive, application/json;charset=UTF-8), and at the end prints
-- one machine-readable line that hook.sh parses:
--
--   RESULT requests=N duration_us=N rps=F p50_us=N p99_us=N non2xx=N
--          sock_errors=N (connect+read+write+timeout)

local path = os.getenv("BODY_FILE")
if not path then
  error("post.lua: set BODY_FILE to the JSON body to POST")
end
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json;charset=UTF-8"
wrk.headers["Accept"] = "application/json, application/*+json"
wrk.headers["User-Agent"] = "Java/1.8.0_292"
wrk.headers["Connection"] = "keep-alive"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d sock_errors=%d\n",
    summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
