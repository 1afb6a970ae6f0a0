-- wrk script for the proxy bench: one MCP session per wrk thread (run with
-- -tN -cN, so one connection each) over streamable HTTP on /mcp: initialize,
-- notifications/initialized, then tools/call in a loop (TOOL and ARGS from the
-- environment, ARGS a JSON object; AUTH, when set, an Authorization value). A call counts as failed unless its answer
-- carries a JSON-RPC result with "isError":false. Each session keeps a
-- latency histogram of its tools/call round trips (100 us buckets, from
-- request() to response(), CLOCK_MONOTONIC): p50/p99 are over the calls of
-- every session, and sess_p99_min/max show whether one session waits longer
-- than the others. wrk's own percentiles (wrk_p99_us) are not the round
-- trips: before done() wrk "corrects" its histogram for coordinated omission
-- (stats_correct: a call that took n intervals adds n-1 made-up samples, an
-- interval being the mean time between one connection's requests), which
-- suits a constant-rate load, not sessions that call as soon as the last
-- answer came; a pause of the MCP server that holds all 16 sessions for
-- 50 ms becomes ~80 extra samples at 10 ms a call, and one such pause more
-- or less in a round moved wrk's p99 between ~20 and ~100 ms.
-- With HIST set, the merged histogram is appended to that file ("bucket
-- count" lines) so that the bench can take percentiles over all its rounds.
-- One machine-readable summary line at the end.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } mcp_timespec_t;
int clock_gettime(int clk, mcp_timespec_t *ts);
]]
local CLOCK_MONOTONIC, BUCKET_US = 1, 100
local ts = ffi.new("mcp_timespec_t")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local tool = os.getenv("TOOL") or "get_current_time"
local auth = os.getenv("AUTH") -- an Authorization header value for every request (bench-proxy's auth side)
local args = os.getenv("ARGS") or '{"timezone":"UTC"}'
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

local step, id, session, sent = 0, 0, nil, 0
good, bad = 0, 0 -- globals: done() reads them with thread:get
hist = {}        -- this session's tools/call latencies: bucket -> count

local function post(body)
  local h = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  if auth then
    h["Authorization"] = auth
  end
  if session then
    h["Mcp-Session-Id"] = session
    h["Mcp-Protocol-Version"] = "2025-06-18"
  end
  return wrk.format("POST", "/mcp", h, body)
end

request = function()
  sent = now_us()
  if step == 0 then
    return post('{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
      .. '"capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}')
  elseif step == 1 then
    return post('{"jsonrpc":"2.0","method":"notifications/initialized"}')
  end
  id = id + 1
  return post('{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"'
    .. tool .. '","arguments":' .. args .. '}}')
end

response = function(status, headers, body)
  if step == 0 then
    session = headers["mcp-session-id"] or headers["Mcp-Session-Id"] or headers["MCP-Session-Id"]
    if status ~= 200 or not session then bad = bad + 1 end
  elseif step >= 2 then
    if status == 200 and body:find('"result"', 1, true) and body:find('"isError":false', 1, true) then
      local b = math.floor((now_us() - sent) / BUCKET_US)
      hist[b] = (hist[b] or 0) + 1
      good = good + 1
    else
      bad = bad + 1
    end
  end
  step = step + 1
end

-- the latency (us, the bucket's upper edge) at percentile p of histogram h with n calls
local function percentile(h, n, p)
  local keys, want, seen = {}, math.ceil(n * p / 100), 0
  for k in pairs(h) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    seen = seen + h[k]
    if seen >= want then return (k + 1) * BUCKET_US end
  end
  return 0
end

done = function(summary, latency, requests)
  local ok, failed, all, smin, smax = 0, 0, {}, nil, nil
  for _, t in ipairs(threads) do
    local n, h = t:get("good"), t:get("hist")
    ok = ok + n
    failed = failed + t:get("bad")
    for k, c in pairs(h) do all[k] = (all[k] or 0) + c end
    if n > 0 then
      local p = percentile(h, n, 99)
      smin, smax = math.min(smin or p, p), math.max(smax or p, p)
    end
  end
  local path = os.getenv("HIST")
  if path and path ~= "" then
    local f = assert(io.open(path, "a"))
    for k, c in pairs(all) do f:write(k, " ", c, "\n") end
    f:close()
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_us=%d p99_us=%d sess_p99_min_us=%d sess_p99_max_us=%d wrk_p99_us=%d "
    .. "requests=%d calls_ok=%d calls_failed=%d errors=%d non2xx=%d\n",
    ok / (summary.duration / 1e6), percentile(all, ok, 50), percentile(all, ok, 99),
    smin or 0, smax or 0, latency:percentile(99), summary.requests, ok, failed,
    e.connect + e.read + e.write + e.timeout, e.status))
end
