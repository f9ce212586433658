-- wrk script: POST /api/customers with a distinct name per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KENALI_BENCH_KEY")
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"fullName":"Bench Customer %d","nik":"3201010101900001","email":"b%d@example.id"}', counter, counter)
  return wrk.format(nil, nil, nil, body)
end
