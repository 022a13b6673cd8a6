-- POST /trpc/credits.retire, each credit once: the IDs in args[1] are dealt
-- out to the args[2] threads. Once all of a thread's IDs are sent it only
-- asks GET /healthz, and once each of its IDs has been answered (the answer
-- names the credit) it stops and reports itself `exhausted`. wrk calls
-- request() once more on thread 0 to check the script, before any
-- connection: that call gets the /healthz request, so no ID is lost to it.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

local ids, mine, sent, answered, checked = {}, {}, 0, 0, false

function init(args)
  local all, threads = read_lines(args[1]), tonumber(args[2])
  for i = tid + 1, #all, threads do
    ids[#ids + 1] = all[i]
    mine[all[i]] = true
  end
end

function request()
  if tid == 0 and not checked then
    checked = true
    return wrk.format("GET", "/healthz")
  end
  if sent == #ids then return wrk.format("GET", "/healthz") end
  sent = sent + 1
  local body = string.format('{"id":"%s","beneficiary":"Bench Corp","reason":"benchmark"}', ids[sent])
  return wrk.format("POST", "/trpc/credits.retire", nil, body)
end

function response(status, headers, body)
  local id = body:match('"creditId":"(cc_%x+)"')
  if id and mine[id] then
    mine[id] = nil
    answered = answered + 1
    if answered == #ids then
      exhausted = true
      wrk.thread:stop()
    end
  end
end
