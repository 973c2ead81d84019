-- weft's capture: the calling node "web". Runs each step in order; before
-- each, a small push to "@mark" tells the recording relay which step the
-- next frames belong to (small pushes take no session, so the markers do
-- not change skynet's session numbering).
local skynet = require "skynet"
local cluster = require "skynet.cluster"

local function step(label)
	cluster.send("db", "@mark", "STEP", label)
end

local function try(...)
	local ok, err = pcall(cluster.call, ...)
	assert(not ok)
	return err
end

skynet.start(function()
	local big = 40 * 1024
	step("call @name, small request, ok response")
	assert(cluster.call("db", "@sdb", "SET", "a", "foobar") == nil)

	step("cluster.query (address 0), ok response with the packed handle")
	local addr = cluster.query("db", "sdb")

	step("call numeric address, small request, ok response")
	assert(cluster.call("db", addr, "GET", "a") == "foobar")

	step("push @name, small (session 0)")
	cluster.send("db", "@sdb", "PING", "small push by name")

	step("push numeric address, small (session 0)")
	cluster.send("db", addr, "PING", "small push by address")

	step("call @name, multipart request (0x81, parts 2 and 3)")
	cluster.call("db", "@sdb", "SET", "big", string.rep("B", big))

	step("call numeric address, multipart request (0x01, parts 2 and 3)")
	cluster.call("db", addr, "SET", "big2", string.rep("C", big))

	step("push @name, multipart (0xc1, parts 2 and 3; takes a session)")
	cluster.send("db", "@sdb", "PING", string.rep("D", big))
	-- a multipart push's parts go on skynet's low-priority write queue:
	-- let them out before the next step's marker
	skynet.sleep(20)

	step("push numeric address, multipart (0x41, parts 2 and 3; takes a session)")
	cluster.send("db", addr, "PING", string.rep("F", big))
	skynet.sleep(20)

	step("call @name, request of exactly 32768 bytes (0x81, one part 3)")
	cluster.call("db", "@sdb", "SET", "k", string.rep("X", 32768 - 9))

	step("call @name, request of 32767 bytes (small 0x80)")
	cluster.call("db", "@sdb", "SET", "k", string.rep("Y", 32767 - 9))

	step("call @name, multipart response (2, 3, 4)")
	assert(#cluster.call("db", "@sdb", "GET", "big") == big)

	step("call @name, response of exactly 32768 bytes (single ok frame)")
	cluster.call("db", "@sdb", "SIZED", 32768)

	step("call @name, response of 32769 bytes (2, 3, 4)")
	cluster.call("db", "@sdb", "SIZED", 32769)

	step("call @name, several return values")
	cluster.call("db", "@sdb", "MULTI")

	step("call @name, no return value")
	cluster.call("db", "@sdb", "NOTHING")

	step("call @name, handler error (error response 0)")
	try("db", "@sdb", "FAIL")

	step("call unknown @name (error response: Invalid name)")
	try("db", "@nosuch", "GET", "a")

	step("cluster.query unknown name (error response: name not found)")
	local ok = pcall(cluster.query, "db", "nosuch")
	assert(not ok)

	-- last: the trace stays on for the rest of this coroutine
	step("call with a trace tag (4, then the request)")
	skynet.trace("capture")
	cluster.call("db", "@sdb", "GET", "a")
	print("CAPTURE DONE")
	skynet.abort()
end)
