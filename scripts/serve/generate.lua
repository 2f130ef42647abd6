-- wrk script: every request asks for LENGTH characters after PROMPT, with its own seed; STREAM=1 asks
-- for server-sent events instead of one reply.
local prompt = os.getenv("PROMPT") or "The "
local length = os.getenv("LENGTH") or "200"
local stream = os.getenv("STREAM") == "1" and "true" or "false"
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format('{"prompt": "%s", "length": %s, "temperature": 0.8, "seed": %d, "stream": %s}', prompt, length,
                             counter, stream)
  return wrk.format(nil, "/v1/generate", nil, body)
end
