-- qry-get.lua (bench/query): GET one collection URL, the same every time.
-- No request() function: wrk builds the request once.
--   BENCH_URL     path and query string, /api/v1.0/NAME/?...
--   BENCH_PREFER  a Prefer header (count=exact...), or unset: none
-- Credentials, status counts and the result lines: res-common.lua.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "res-common.lua")

wrk.method = "GET"
wrk.path = os.getenv("BENCH_URL") or (common.path .. "?page=1")
local prefer = os.getenv("BENCH_PREFER")
if prefer ~= nil and prefer ~= "" then
	wrk.headers["Prefer"] = prefer
end
