-- res-post.lua (bench/resources): POST a new item with every request.
--   BENCH_BODY  the JSON body; each @UNIQ@ in it becomes a string of 10
--               characters that no other request of the benchmark makes:
--               "W", the run (2 base-36 digits), the thread (1), a
--               counter (6), so that a resource whose key is given by
--               the client (pxcodes: varchar(10)) never sees it twice
--   BENCH_RUN   the run's number, 0 to 1295, distinct for each wrk run
-- A body without @UNIQ@ is sent as it is, still built per request, so
-- that both resources cost the client the same.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "res-common.lua")

local digits = "0123456789abcdefghijklmnopqrstuvwxyz"

local function b36(n, width)
	local s = ""
	repeat
		local d = n % 36
		s = string.sub(digits, d + 1, d + 1) .. s
		n = (n - d) / 36
	until n == 0
	return string.rep("0", width - #s) .. s
end

local body = os.getenv("BENCH_BODY") or '{"procedure":"BENCH"}'
local run = tonumber(os.getenv("BENCH_RUN") or "0") % (36 * 36)
local counter = 0
local stem = nil

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
	if stem == nil then
		stem = "W" .. b36(run, 2) .. b36((tid or 0) % 36, 1)
	end
	counter = counter + 1
	local b = string.gsub(body, "@UNIQ@", stem .. b36(counter, 6))
	return wrk.format("POST", common.path, nil, b)
end
