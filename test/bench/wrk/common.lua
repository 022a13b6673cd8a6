-- Shared by the bench's wrk scripts (loaded with dofile): numbers the
-- threads, reads files of lines, and reports the run as one JSON line.
local threads = {}

function setup(thread)
  -- Runs in the main state just before the thread's init(): `tid` is 0, 1, …
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then lines[#lines + 1] = line end
  end
  assert(#lines > 0, "no lines in " .. path)
  return lines
end

function done(summary, latency, requests)
  local exhausted = 0
  for _, t in ipairs(threads) do
    if t:get("exhausted") then exhausted = exhausted + 1 end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"exhaustedThreads":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, exhausted))
end
