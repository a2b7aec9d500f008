-- The one wrk script of the benchmark, set up by environment variables (bench/wrk.py sets them).
--
-- BENCH_METHOD, BENCH_PATH    request line (default GET /)
-- BENCH_ACCEPT                Accept header ("application/json" for apps, a browser's otherwise)
-- BENCH_COOKIE                a fixed Cookie header (a ticket or a pass)
-- BENCH_TOKENS, BENCH_TOKEN_COOKIE
--                             a file of tokens, one a line: each request sends the next one as
--                             that cookie, so every request uses a fresh token (thread i of n
--                             takes lines i, i+n, ...); the requests are built in init(), not per
--                             request. Running out wraps around and is counted ("reused").
-- BENCH_EXPECT                a string every response body must contain (else "unexpected")
-- BENCH_FIELD                 a numeric JSON field to sum over the responses (e.g. the
--                             poll_after_seconds of joins)
-- BENCH_STOP_AFTER            a thread stops after this many responses (a fixed-size run)
--
-- done() prints one line: BENCH_RESULT {json}, which bench/wrk.py reads.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local function env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then return default end
  return value
end

wrk.method = env("BENCH_METHOD", "GET")
wrk.path = env("BENCH_PATH", "/")
wrk.headers["Accept"] = env("BENCH_ACCEPT", "text/html,application/xhtml+xml")
wrk.headers["Accept-Language"] = "id-ID,id;q=0.9,en;q=0.8"
if env("BENCH_COOKIE", nil) then wrk.headers["Cookie"] = env("BENCH_COOKIE", nil) end
-- wrk.format() derives Content-Length from the body: "" gives a POST its "Content-Length: 0".
if wrk.method == "POST" then wrk.body = "" end

-- Per-thread counters, read back in done() with thread:get().
responses = 0
unexpected = 0
field_sum = 0
field_count = 0
reused = 0

local requests = nil
local cursor = 0
local expect = env("BENCH_EXPECT", nil)
local field = env("BENCH_FIELD", nil)
local stop_after = tonumber(env("BENCH_STOP_AFTER", "0"))

function init(args)
  local tokens_file = env("BENCH_TOKENS", nil)
  if tokens_file then
    local name = env("BENCH_TOKEN_COOKIE", "wr_ticket")
    local stride = tonumber(env("BENCH_THREADS", "1"))
    requests = {}
    local line_no = 0
    for line in io.lines(tokens_file) do
      if line ~= "" and line_no % stride == thread_index then
        -- wrk.format() takes the headers given in place of wrk.headers: pass a full copy.
        local headers = {}
        for k, v in pairs(wrk.headers) do headers[k] = v end
        headers["Cookie"] = name .. "=" .. line
        table.insert(requests, wrk.format(nil, nil, headers))
      end
      line_no = line_no + 1
    end
    if #requests == 0 then error("no tokens for thread " .. thread_index) end
  else
    request = nil -- one request, built once by wrk (its fast path)
  end
  if not (expect or field or stop_after > 0) then response = nil end
end

function request()
  cursor = cursor + 1
  if cursor > #requests then
    cursor = 1
    reused = reused + #requests
  end
  return requests[cursor]
end

function response(status, headers, body)
  responses = responses + 1
  if expect and not string.find(body, expect, 1, true) then unexpected = unexpected + 1 end
  if field then
    local value = string.match(body, '"' .. field .. '":%s*(-?[%d.]+)')
    if value then
      field_sum = field_sum + tonumber(value)
      field_count = field_count + 1
    end
  end
  if stop_after > 0 and responses == stop_after then
    -- wrk itself runs for its -d duration: bench/wrk.py sees this line and interrupts it.
    io.write("BENCH_STOPPED\n")
    io.flush()
    wrk.thread:stop()
  end
end

local function json_number(value)
  if value ~= value or value == math.huge or value == -math.huge then return "null" end
  return string.format("%.17g", value)
end

function done(summary, latency, _)
  local totals = { responses = 0, unexpected = 0, field_sum = 0, field_count = 0, reused = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  local parts = {
    '"requests":' .. summary.requests,
    '"duration_us":' .. summary.duration,
    '"bytes":' .. summary.bytes,
    '"errors":{"connect":' .. e.connect .. ',"read":' .. e.read .. ',"write":' .. e.write
      .. ',"status":' .. e.status .. ',"timeout":' .. e.timeout .. '}',
    '"latency_us":{"p50":' .. latency:percentile(50) .. ',"p90":' .. latency:percentile(90)
      .. ',"p99":' .. latency:percentile(99) .. ',"mean":' .. json_number(latency.mean)
      .. ',"max":' .. latency.max .. '}',
  }
  for name, value in pairs(totals) do
    table.insert(parts, '"' .. name .. '":' .. json_number(value))
  end
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
