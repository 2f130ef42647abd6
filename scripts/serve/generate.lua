-- wrk script: every request asks for LENGTH characters after PROMPT, with its own seed.
local prompt = os.getenv("PROMPT") or "The "
local length = os.getenv("LENGTH") or "200"
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format('{"prompt": "%s", "length": %s, "temperature": 0.8, "seed": %d}', prompt, length, counter)
  return wrk.format(nil, "/v1/generate", nil, body)
end
