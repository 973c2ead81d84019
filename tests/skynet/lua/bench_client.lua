-- weft's skynet benchmark (ours): calls node "db"'s @sdb GET "a" through
-- skynet's cluster, `bench_calls` calls with `bench_inflight` coroutines
-- in flight (both read from the start config), after a warm-up; prints
-- "BENCH<TAB>calls<TAB>inflight<TAB>seconds".
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local function run(calls, inflight)
	local left = calls
	local done = 0
	local me = coroutine.running()
	local start = skynet.hpc()
	for _ = 1, inflight do
		skynet.fork(function()
			while left > 0 do
				left = left - 1
				cluster.call("db", "@sdb", "GET", "a")
			end
			done = done + 1
			if done == inflight then skynet.wakeup(me) end
		end)
	end
	skynet.wait(me)
	return (skynet.hpc() - start) / 1e9
end

skynet.start(function()
	local calls = tonumber(skynet.getenv "bench_calls")
	local inflight = tonumber(skynet.getenv "bench_inflight")
	run(math.min(calls, 2000), inflight) -- warm-up
	local seconds = run(calls, inflight)
	print(string.format("BENCH\t%d\t%d\t%.6f", calls, inflight, seconds))
	skynet.abort()
end)
