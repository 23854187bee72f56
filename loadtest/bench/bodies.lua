-- wrk script for `make bench`: POST bodies picked at random from a file, one JSON body a line.
--   BENCH_BODIES  the file of bodies (required)
--   BENCH_PATH    the request path (default /v1/verify)
--   BENCH_KEY     an API key, sent as "Authorization: Bearer <key>" (optional)
-- Every request is formatted once in init(); request() only picks one.
-- done() prints one line "BENCH_JSON {...}" with the totals and percentiles (microseconds).

local prepared = {}
local count = 0

function init(args)
  local file = os.getenv("BENCH_BODIES")
  local path = os.getenv("BENCH_PATH") or "/v1/verify"
  local key = os.getenv("BENCH_KEY")
  local headers = { ["Content-Type"] = "application/json" }
  if key ~= nil and key ~= "" then
    headers["Authorization"] = "Bearer " .. key
  end
  for line in io.lines(file) do
    if line ~= "" then
      count = count + 1
      prepared[count] = wrk.format("POST", path, headers, line)
    end
  end
  if count == 0 then
    error("no request bodies in " .. tostring(file))
  end
  math.randomseed(os.time())
end

function request()
  return prepared[math.random(count)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"timeouts": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.timeout, e.status))
end
