-- bench/soak.lua: wrk script for bench/hook_soak.sh: a mix of WCS requests and refusals on keep-alive connections.
--
-- Each thread cycles through seven kinds, one per request, and counts what it sent and the status of every
-- answer; at the end each thread prints one line that hook_soak.sh adds up:
--   SOAK sent_connect=N ... got_200=N got_400=N got_403=N got_405=N got_other=N
-- Kinds: connect (the bench body: a WCS retry of one session), uconnect (a connect with a sessionId of its own:
-- a new session each time, so the session table fills and expires), call, event (CallStatusEvent, mirrored),
-- hostile (a connect from an origin the site does not allow: 403), malformed (broken JSON: 400), get (GET on a
-- POST-only route: 405). BENCH_DIR names the folder of the bench bodies.
local dir = os.getenv("BENCH_DIR") or "bench"

local function slurp(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local connect = slurp("connect.json")
local call = slurp("call.json")
local event = slurp("event.json")
local hostile = connect:gsub('"origin":"https://www.example.com"', '"origin":"https://www.example.com.evil.net"')
local malformed = connect:sub(1, #connect - 2) .. ',}'
local sid = "/192.168.1.20:52706/192.168.1.5:8443-2b9e8c1a"
local kinds = { "connect", "uconnect", "call", "event", "hostile", "malformed", "get" }
local headers = {
  ["Content-Type"] = "application/json;charset=UTF-8",
  ["User-Agent"] = "Java/1.8.0_292",
  ["Connection"] = "keep-alive",
}

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  sent = {}
  got = { [200] = 0, [400] = 0, [403] = 0, [405] = 0, other = 0 }
  for _, k in ipairs(kinds) do sent[k] = 0 end
end

function request()
  n = n + 1
  local k = kinds[(n - 1) % #kinds + 1]
  sent[k] = sent[k] + 1
  if k == "connect" then
    return wrk.format("POST", "/rest-hook/connect", headers, connect)
  elseif k == "uconnect" then
    local u = connect:gsub(sid:gsub("%p", "%%%0"), string.format("/10.%d.0.1:%d/192.168.1.5:8443-soak", tid, n), 1)
    return wrk.format("POST", "/rest-hook/connect", headers, u)
  elseif k == "call" then
    return wrk.format("POST", "/rest-hook/call", headers, call)
  elseif k == "event" then
    return wrk.format("POST", "/rest-hook/CallStatusEvent", headers, event)
  elseif k == "hostile" then
    return wrk.format("POST", "/rest-hook/connect", headers, hostile)
  elseif k == "malformed" then
    return wrk.format("POST", "/rest-hook/connect", headers, malformed)
  end
  return wrk.format("GET", "/rest-hook/connect", headers, nil)
end

function response(status, hdrs, body)
  if got[status] then
    got[status] = got[status] + 1
  else
    got.other = got.other + 1
  end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local line = "SOAK"
    for _, k in ipairs(kinds) do line = line .. string.format(" sent_%s=%d", k, t:get("sent")[k]) end
    local g = t:get("got")
    io.write(string.format("%s got_200=%d got_400=%d got_403=%d got_405=%d got_other=%d\n", line,
      g[200], g[400], g[403], g[405], g.other))
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d sock_errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
