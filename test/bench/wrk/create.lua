-- POST /trpc/credits.create, a new credit every request: the serial number is
-- unique per run (args[1]), thread and request.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

local run, n = "run", 0

function init(args)
  run = args[1]
end

function request()
  n = n + 1
  local body = string.format(
    '{"projectName":"Bench Project %d","registry":"Verra","vintage":2020,"quantity":"%d.5","serialNumber":"WRK-%s-%d-%d"}',
    n % 97, n % 1000 + 1, run, tid, n)
  return wrk.format("POST", "/trpc/credits.create", nil, body)
end
