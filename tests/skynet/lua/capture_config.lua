-- weft's capture: runs skynet's own cluster config loader (clusterd, which
-- loads the file named by the `cluster` setting at start) and prints what
-- it made of the file: its node_address and config tables, read out of
-- clusterd through skynet's debug RUN, or that clusterd refused to start.
local skynet = require "skynet"

local dump = [[
local function upvalue(f, wanted)
	local i = 1
	while true do
		local name, value = debug.getupvalue(f, i)
		if name == nil then return nil end
		if name == wanted then return value end
		i = i + 1
	end
end
local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local loadconfig = upvalue(_P.lua.command.reload, "loadconfig")
for k, v in pairs(upvalue(loadconfig, "node_address")) do
	print("NODE " .. hex(k) .. " " .. (type(v) == "string" and ("s" .. hex(v)) or tostring(v)))
end
for k, v in pairs(upvalue(loadconfig, "config")) do
	print("OPT " .. hex(k) .. " " .. tostring(v))
end
]]

skynet.start(function()
	local ok, clusterd = pcall(skynet.uniqueservice, "clusterd")
	if not ok then
		print("CONFIG REFUSED")
		skynet.abort()
		return
	end
	local _, out = skynet.call(clusterd, "debug", "RUN", dump)
	print("CONFIG TABLE\n" .. out .. "\nCONFIG END")
	skynet.abort()
end)
