-- wrk script: POST /core/update as ../shared/bench/post.lua does (a session_id
-- never sent before on every request, ~200 bytes of data), with
-- "Authorization: Bearer $COREBRIDGE_TOKEN" when that variable is set: to
-- measure what authentication costs, against a bridge with an auth file.
local modules = {"education", "finance", "creative", "robotics"}
local counter = 0
local nthreads = 0
local run = ""
local token = os.getenv("COREBRIDGE_TOKEN")
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
  local headers = {["Content-Type"] = "application/json"}
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/core/update", headers, body)
end
