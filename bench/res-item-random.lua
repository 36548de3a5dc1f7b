-- res-item-random.lua (bench/resources): GET an item picked uniformly at
-- random among the keys given.
--   BENCH_KEYS  the keys of the rows, URL-escaped, comma separated

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "res-common.lua")

local keys = {}
for k in string.gmatch(os.getenv("BENCH_KEYS") or "039", "[^,]+") do
	keys[#keys + 1] = common.path .. k
end

function init(args)
	-- A different sequence in each thread and each run.
	math.randomseed(os.time() + (tid or 0) * 7919
	    + math.floor(os.clock() * 1e6))
end

function request()
	return wrk.format("GET", keys[math.random(#keys)])
end
