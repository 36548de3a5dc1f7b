-- res-collection.lua (bench/resources): GET the first page of 100.
-- No request() function: wrk builds the request once.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "res-common.lua")

wrk.method = "GET"
wrk.path = common.path .. "?page=1&per_page=100"
