-- wrk script: POST /core/updates, 1,000 updates of ~150 bytes of data per
-- request, every session_id never sent before (thread, run and counter in
-- it), across four modules. Records/s = requests/s x 1,000.
-- Usage: wrk -t2 -c8 -d10s -s scripts/wrk/post-batch.lua http://127.0.0.1:8000/core/updates
local modules = {"education", "finance", "creative", "robotics"}
local counter = 0
local nthreads = 0
local run = ""
setup = function(thread)
  nthreads = nthreads + 1
  thread:set("thread_id", nthreads)
end
init = function(args)
  math.randomseed(os.time() * 1000 + thread_id)
  run = string.format("%x-%d-%x", os.time(), thread_id, math.random(1, 1000000000))
end
request = function()
  local items = {}
  for i = 1, 1000 do
    counter = counter + 1
    items[i] = string.format(
      '{"module":"%s","session_id":"b-%s-%d","data":{"student_id":"S-%d","course":"algebra","score":87.5,"progress":{"done":%d,"total":20},"notes":"steady improvement over the last three sessions"}}',
      modules[(counter % 4) + 1], run, counter, counter % 10000, counter % 20)
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"updates":[' .. table.concat(items, ",") .. ']}')
end
