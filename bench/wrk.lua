-- wrk's script for the side-by-side run (bench/wrk.py): POST one GraphQL request, again
-- and again on every connection, and count the answers that are not HTTP 200 or carry
-- an `errors` entry. Its one argument is the file with the request's JSON body.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  failed = 0
  sample = ""
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failed = failed + 1
    if sample == "" then
      sample = string.sub(body, 1, 300)
    end
  end
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local failed, sample = 0, ""
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failed")
    if sample == "" then
      sample = thread:get("sample")
    end
  end
  local errors = summary.errors
  io.write(string.format(
    '\n{"requests": %d, "duration_us": %d, "failed": %d, "socket_errors": %d, '
      .. '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}, "sample": %s}\n',
    summary.requests, summary.duration, failed,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max,
    json_string(sample)
  ))
end
