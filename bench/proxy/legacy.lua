-- wrk script: one handshake-era MCP session per connection (run with -t N -c N so
-- each thread owns one connection): initialize, notifications/initialized, then
-- tools/call echo in a loop with the session's Mcp-Session-Id. Both proxies under
-- test speak this; answers may be JSON or SSE, either counts when it is a 200.
local sid, step = nil, 0
local init = '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",' ..
             '"capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}'
local inited = '{"jsonrpc":"2.0","method":"notifications/initialized"}'
local call = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'
local n = 0
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function request()
   local h = {["content-type"] = "application/json", ["accept"] = "application/json, text/event-stream"}
   if step == 0 then
      return wrk.format("POST", "/mcp", h, init)
   end
   h["mcp-session-id"] = sid
   h["mcp-protocol-version"] = "2025-06-18"
   if step == 1 then
      return wrk.format("POST", "/mcp", h, inited)
   end
   n = n + 1
   return wrk.format("POST", "/mcp", h, string.format(call, n))
end

function response(status, headers, body)
   if step == 0 then
      sid = headers["mcp-session-id"] or headers["Mcp-Session-Id"]
      step = 1
   elseif step == 1 then
      step = 2
   elseif status ~= 200 or not string.find(body, "Echo: hi", 1, true) then
      wrk.thread:set("bad", (wrk.thread:get("bad") or 0) + 1)
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, t in ipairs(threads) do bad = bad + (t:get("bad") or 0) end
   io.write(string.format("BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f bad=%d errors=%d\n",
      summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
      latency:percentile(99) / 1000, bad, summary.errors.status + summary.errors.connect +
      summary.errors.read + summary.errors.write + summary.errors.timeout))
end
