-- weft's capture: the callee node "db". Starts the store, registers it as
-- "sdb" (and a marker sink as "mark"), opens "db" from the cluster config.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

skynet.start(function()
	local store = skynet.newservice("capture_store")
	cluster.register("sdb", store)
	local mark = skynet.newservice("capture_store")
	cluster.register("mark", mark)
	cluster.open "db"
	print("CAPTURE READY " .. store)
end)
