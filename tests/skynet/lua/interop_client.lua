-- weft's live interop check (ours): a skynet node calling a weft node
-- named "weft" through skynet's own cluster (clustersender), printing
-- "RESULT<TAB>label<TAB>ok<TAB>values..." per step.
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local function show(label, ok, ...)
	local out = { "RESULT", label, tostring(ok) }
	for i = 1, select("#", ...) do
		out[#out + 1] = tostring((select(i, ...)))
	end
	print(table.concat(out, "\t"))
end

skynet.start(function()
	show("add", pcall(cluster.call, "weft", "@calc", "add", 1, 2))
	show("echo 100 KiB", pcall(function()
		local s = string.rep("x", 100 * 1024)
		local back = cluster.call("weft", "@calc", "echo", s)
		return back == s, #back
	end))
	show("several values", pcall(cluster.call, "weft", "@calc", "multi"))
	show("handler error", pcall(cluster.call, "weft", "@calc", "fail"))
	show("unknown service", pcall(cluster.call, "weft", "@nosuch", "x"))
	show("query", pcall(cluster.query, "weft", "calc"))
	show("query unknown", pcall(cluster.query, "weft", "nosuch"))
	local addr = cluster.query("weft", "calc")
	show("by handle", pcall(cluster.call, "weft", addr, "add", 20, 22))
	cluster.send("weft", "@calc", "note", "pushed")
	cluster.send("weft", "@calc", "note", string.rep("p", 50000))
	skynet.sleep(20)
	show("pushes arrived", pcall(cluster.call, "weft", "@calc", "notes"))
	skynet.trace("live")
	show("traced", pcall(cluster.call, "weft", "@calc", "trace"))
	print("INTEROP DONE")
	skynet.abort()
end)
