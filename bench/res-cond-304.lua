-- res-cond-304.lua (bench/resources): GET the same item with
-- If-None-Match of its current ETag: every answer should be 304.
--   BENCH_KEY   the item's key, URL-escaped
--   BENCH_ETAG  its ETag, as the server gave it (quotes included)
-- No request() function: wrk builds the request once.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "res-common.lua")

wrk.method = "GET"
wrk.path = common.path .. (os.getenv("BENCH_KEY") or "039")
wrk.headers["If-None-Match"] = os.getenv("BENCH_ETAG") or '"none"'
