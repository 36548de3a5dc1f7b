-- res-item-hot.lua (bench/resources): GET the same item every time.
--   BENCH_KEY  the item's key, URL-escaped (with res-common.lua's settings)
-- No request() function: wrk builds the request once.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "res-common.lua")

wrk.method = "GET"
wrk.path = common.path .. (os.getenv("BENCH_KEY") or "039")
