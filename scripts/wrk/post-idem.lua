-- wrk script: POST /core/update as ../shared/bench/post.lua does (a session_id
-- never sent before, ~200 bytes of data), plus an Idempotency-Key never
-- sent before on every request: a flood of unique explicit keys, which the
-- dedupe index must take in within its memory budget (issue 15).
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
  counter = counter + 1
  local m = modules[(counter % 4) + 1]
  local body = string.format(
    '{"module":"%s","session_id":"%s-%d","data":{"course_id":"CS101","course_name":"Introduction to Computer Science","students_enrolled":%d,"instructor":"Dr. Smith","term":"2026-fall","room":"B-204","credits":4}}',
    m, run, counter, counter % 500)
  local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = string.format("idem-%s-%d", run, counter)}
  return wrk.format("POST", "/core/update", headers, body)
end
