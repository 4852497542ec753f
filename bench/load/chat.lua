-- wrk request: a small non-streaming (or, with STREAM=1, streaming) chat completion.
-- PATH_PREFIX, MODEL, AUTH and EXTRA_HEADERS (name:value;name:value) come from the environment.
local stream = os.getenv("STREAM") == "1"
wrk.method = "POST"
wrk.path = (os.getenv("PATH_PREFIX") or "") .. "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = "Bearer " .. auth end
for pair in string.gmatch(os.getenv("EXTRA_HEADERS") or "", "[^;]+") do
  local name, value = string.match(pair, "^([^:]+):(.*)$")
  wrk.headers[name] = value
end
wrk.body = '{"model":"' .. (os.getenv("MODEL") or "load-model") .. '","max_tokens":16,' ..
  (stream and '"stream":true,"stream_options":{"include_usage":true},' or '') ..
  '"messages":[{"role":"user","content":"Say hello to the load test."}]}'
