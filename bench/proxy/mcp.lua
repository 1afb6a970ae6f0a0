-- wrk script for the proxy bench: one MCP session per wrk thread (run with
-- -tN -cN, so one connection each) over streamable HTTP on /mcp: initialize,
-- notifications/initialized, then tools/call in a loop (TOOL and ARGS from the
-- environment, ARGS a JSON object). A call counts as failed unless its answer
-- carries a JSON-RPC result with "isError":false. One machine-readable
-- summary line at the end.
local tool = os.getenv("TOOL") or "get_current_time"
local args = os.getenv("ARGS") or '{"timezone":"UTC"}'
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

local step, id, session = 0, 0, nil
good, bad = 0, 0 -- globals: done() reads them with thread:get

local function post(body)
  local h = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  if session then
    h["Mcp-Session-Id"] = session
    h["Mcp-Protocol-Version"] = "2025-06-18"
  end
  return wrk.format("POST", "/mcp", h, body)
end

request = function()
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
      good = good + 1
    else
      bad = bad + 1
    end
  end
  step = step + 1
end

done = function(summary, latency, requests)
  local ok, failed = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("good")
    failed = failed + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_us=%d p99_us=%d requests=%d calls_ok=%d calls_failed=%d errors=%d non2xx=%d\n",
    ok / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, ok, failed, e.connect + e.read + e.write + e.timeout, e.status))
end
