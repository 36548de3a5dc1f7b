-- basic-auth.lua: wrk script for bench/cache-bench.
--
-- Every request carries the same Basic credentials (BENCH_AUTH holds the
-- base64 of "user:password"; cache-bench sets it).  At the end one line is
-- printed for cache-bench to parse:
--   BENCH <requests/s> <p50 ms> <p99 ms> <requests> <errors>

local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
	wrk.headers["Authorization"] = "Basic " .. auth
end

function done(summary, latency, requests)
	local errors = summary.errors.connect + summary.errors.read
	    + summary.errors.write + summary.errors.status
	    + summary.errors.timeout
	io.write(string.format("BENCH %.1f %.3f %.3f %d %d\n",
	    summary.requests / (summary.duration / 1e6),
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
	    summary.requests, errors))
end
