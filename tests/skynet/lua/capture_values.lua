-- weft's capture: skynet.pack of a value of every type skynet can carry,
-- printed as "VALUE<TAB>label<TAB>hex" lines.
local skynet = require "skynet"

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function emit(label, ...)
	print("VALUE\t" .. label .. "\t" .. hex(skynet.packstring(...)))
end

local function nested(depth)
	local t = {}
	for _ = 2, depth do
		t = { t }
	end
	return t
end

local function array(n)
	local t = {}
	for i = 1, n do t[i] = i end
	return t
end

skynet.start(function()
	emit("nil", nil)
	emit("no values")
	emit("true", true)
	emit("false", false)
	emit("integer 0", 0)
	emit("integer 1 (byte)", 1)
	emit("integer 255 (byte)", 255)
	emit("integer 256 (word)", 256)
	emit("integer 65535 (word)", 65535)
	emit("integer 65536 (dword)", 65536)
	emit("integer 2^31-1 (dword)", 0x7fffffff)
	emit("integer -1 (dword)", -1)
	emit("integer -2^31 (dword)", -0x80000000)
	emit("integer 2^31 (qword)", 0x80000000)
	emit("integer -2^31-1 (qword)", -0x80000001)
	emit("integer 2^53-1 (qword)", 9007199254740991)
	emit("integer 2^53 (qword)", 9007199254740992)
	emit("integer -2^53-1 (qword)", -9007199254740993)
	emit("integer maxinteger (qword)", math.maxinteger)
	emit("integer mininteger (qword)", math.mininteger)
	emit("real 0.5", 0.5)
	emit("real -1.25", -1.25)
	emit("real 1.0 (a float with an integral value)", 1.0)
	emit("real -0.0", -0.0)
	emit("real 1e300", 1e300)
	emit("real 2^53 as a float", 2.0^53)
	emit("real inf", math.huge)
	emit("real -inf", -math.huge)
	emit("real nan", 0/0)
	emit("string empty", "")
	emit("string short", "hello")
	emit("string 31 bytes (longest short)", string.rep("s", 31))
	emit("string 32 bytes (u16 long)", string.rep("l", 32))
	emit("string 65535 bytes (u16 long)", string.rep("m", 65535))
	emit("string 65536 bytes (u32 long)", string.rep("n", 65536))
	emit("string UTF-8", "h\u{e9}llo \u{4e16}\u{754c} \u{1f600}")
	emit("string bytes (not UTF-8)", "\xff\xfe\x00\x80")
	emit("string with a BOM", "\u{feff}bom")
	emit("table empty", {})
	emit("table array 3", { 1, 2, 3 })
	emit("table array 30 (longest inline size)", array(30))
	emit("table array 31 (size as an integer)", array(31))
	emit("table array 300 (size as a word)", array(300))
	emit("table array with a hole", { 1, nil, 3 })
	emit("table hash string keys", { a = 1 })
	emit("table mixed array and hash", { "x", "y", k = "v" })
	emit("table integer keys beyond the array", { [10] = "ten", [-1] = "minus one" })
	emit("table boolean and float keys", { [true] = "t", [1.5] = "f" })
	emit("table nested", { a = { b = { c = { 1, 2 } } }, list = { { 1 }, { 2 } } })
	emit("table nested 32 deep", nested(32))
	emit("table nested 33 deep (the deepest skynet packs)", nested(33))
	emit("several values", 1, "two", nil, true, { 3 })
	emit("request GET a", "GET", "a")
	emit("light userdata (a pointer: meaningless to another process)", skynet.pack("x"))
	print("VALUES DONE")
	skynet.abort()
end)
