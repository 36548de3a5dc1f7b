-- res-common.lua: what every endpoint script of bench/resources shares.
--
-- Loaded by res-<endpoint>.lua with dofile(); configured by the
-- environment only, so that both resources get the same requests:
--   BENCH_AUTH   base64 of "user:password" (Basic, on every request)
--   BENCH_PATH   the resource's collection path, /api/v1.0/NAME/
-- Every response's status is counted per thread (response() below) and
-- done() prints two lines for bench/resources to parse:
--   BENCH <requests/s> <p50 ms> <p99 ms> <requests> <socket errors>
--   STATUS <code>=<count> ...
-- Socket errors are connect, read, write and timeout; wrk's own "status"
-- error (any answer above 399) is not added, since STATUS says it all.
--
-- Counting costs a Lua call per response (wrk then keeps each response's
-- headers and body for it): the same for both resources, which is what
-- the comparison needs, but the absolute figures are a little below
-- those of a script without response().

local common = {}

common.path = os.getenv("BENCH_PATH") or "/api/v1.0/pxcodes/"

local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
	wrk.headers["Authorization"] = "Basic " .. auth
end

-- The threads, numbered in setup() (run in the main state), so that each
-- can make unique values and done() can collect their counts.
local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	threads[#threads + 1] = thread
end

statuses = {}

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH %.1f %.3f %.3f %d %d\n",
	    summary.requests / (summary.duration / 1e6),
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
	    summary.requests, e.connect + e.read + e.write + e.timeout))
	local total = {}
	for _, t in ipairs(threads) do
		for code, n in pairs(t:get("statuses") or {}) do
			total[code] = (total[code] or 0) + n
		end
	end
	local codes = {}
	for code in pairs(total) do
		codes[#codes + 1] = code
	end
	table.sort(codes)
	local line = "STATUS"
	for _, code in ipairs(codes) do
		line = line .. string.format(" %d=%d", code, total[code])
	end
	io.write(line .. "\n")
end

return common
