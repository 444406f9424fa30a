-- wrk script: POST /core/update with a session_id never sent before and
-- ~200 bytes of data, as ../shared/bench/post.lua, plus a salt from the
-- WRK_SALT environment variable in every session_id, so that several wrk
-- processes started in the same second (one per replica) never repeat
-- each other's ids either.
-- Usage: WRK_SALT=r1 wrk -t2 -c32 -d15s -s scripts/wrk/post-salted.lua http://127.0.0.1:8000
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
  run = string.format("%s-%x-%d-%x", os.getenv("WRK_SALT") or "", os.time(), thread_id, math.random(1, 1000000000))
end
request = function()
  counter = counter + 1
  local m = modules[(counter % 4) + 1]
  local body = string.format(
    '{"module":"%s","session_id":"%s-%d","data":{"course_id":"CS101","course_name":"Introduction to Computer Science","students_enrolled":%d,"instructor":"Dr. Smith","term":"2026-fall","room":"B-204","credits":4}}',
    m, run, counter, counter % 500)
  return wrk.format("POST", "/core/update", {["Content-Type"] = "application/json"}, body)
end
