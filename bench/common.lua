-- Shared by the wrk scenarios: script arguments, the two requests, a JSON summary.
-- wrk runs each script as `wrk ... URL ROWS TOKEN [PATH]`; every thread has its own Lua state.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  rows = tonumber(args[1])
  local authorization = "Bearer " .. args[2]
  -- As the platform's proxy tells it: the client came over HTTPS (production refuses HTTP).
  get_headers = { ["Authorization"] = authorization, ["X-Forwarded-Proto"] = "https" }
  put_headers = {
    ["Authorization"] = authorization,
    ["X-Forwarded-Proto"] = "https",
    ["Content-Type"] = "application/json",
  }
  path = args[3]
  -- Different ids in every thread, yet the same sequence run after run.
  math.randomseed(thread_number * 7919)
  created = 0
end

function get_request()
  local path = "/resources/data/" .. math.random(1, rows)
  return wrk.format("GET", path, get_headers)
end

function put_request()
  created = created + 1
  local body = string.format(
    '{"name": "bench %d-%d", "age": %d, "locale": "NYC"}',
    thread_number, created, created % 151
  )
  return wrk.format("PUT", "/resources/data/", put_headers, body)
end

-- One JSON line; wrk counts every status of 400 or more in errors.status
-- ("Non-2xx or 3xx responses"); nothing here redirects, so that is every non-2xx.
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
      .. '"timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
