-- weft's capture fixture service (ours, not skynet's): a key-value store
-- whose commands make every response shape skynet's cluster can send.
local skynet = require "skynet"

local db = {}
local command = {}

function command.GET(key)
	return db[key]
end

function command.SET(key, value)
	local last = db[key]
	db[key] = value
	return last
end

-- A response of exactly n bytes of packed value: skynet.pack(string) is
-- 1 + 2 (u16 length) + len for 32 <= len < 65536, 1 + 4 + len above.
function command.SIZED(n)
	if n < 65536 + 3 then
		return string.rep("S", n - 3)
	end
	return string.rep("S", n - 5)
end

function command.MULTI()
	return 1, "two", nil, true
end

function command.NOTHING()
end

function command.FAIL()
	error("capture: this handler fails")
end

skynet.start(function()
	skynet.dispatch("lua", function(session, address, cmd, ...)
		if cmd == "PING" or cmd == "STEP" then
			-- pushes (and the capture's step markers): no response
			return
		end
		local f = assert(command[cmd], cmd)
		skynet.ret(skynet.pack(f(...)))
	end)
end)
