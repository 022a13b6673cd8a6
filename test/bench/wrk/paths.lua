-- GET a path picked at random from a file of paths (args[1]): credits.get of
-- random IDs, credits.list pages at random cursors, or one path repeated.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

local requests = {}

function init(args)
  for i, path in ipairs(read_lines(args[1])) do
    requests[i] = wrk.format("GET", path)
  end
  math.randomseed(os.time() + tid * 7919)
end

function request()
  return requests[math.random(#requests)]
end
