-- wrk script for the webhook bench: POST an AdmissionReview (file named by
-- the REVIEW environment variable), alternating the mutate and validate
-- paths, and print one machine-readable summary line at the end.
local f = assert(io.open(os.getenv("REVIEW"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local paths = {
  "/mutate-toolhive-stacklok-dev-v1alpha1-mcpserver?timeout=10s",
  "/validate-toolhive-stacklok-dev-v1alpha1-mcpserver?timeout=10s",
}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, paths[n % 2 + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
