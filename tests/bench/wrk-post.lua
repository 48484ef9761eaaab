-- wrk script for tests/bench/webhook_bench.sh: POSTs one AdmissionReview,
-- the file named by $WRK_BODY, on every request, as the API server does.
--   WRK_BODY=review.json wrk -s wrk-post.lua --latency https://host:port/validate
local path = os.getenv("WRK_BODY")
if not path then error("set WRK_BODY to the AdmissionReview file to POST") end
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, */*"
