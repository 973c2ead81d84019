// skynet cluster configs (clustername.lua files) as a table of cases,
// written once: lua_config_test.ts checks weft's loader against each, and
// tests/skynet/capture.ts runs each through skynet's own loader (clusterd)
// and records what skynet made of it in tests/skynet/fixtures/configs.json.

/** What a loader made of a config: its nodes and nowaiting, or the line it refused. */
export type ConfigOutcome =
  | { nodes: [string, string | false][]; nowaiting: boolean }
  | { refusedAt: number };

/** One case. `skynet` says how skynet's loader differs from weft's, when it does. */
export interface ConfigCase {
  name: string;
  text: string;
  weft: ConfigOutcome;
  /** skynet's outcome where it differs from weft's (the reason is in `why`). */
  skynet?: ConfigOutcome;
  why?: string;
}

const lines = (...l: string[]) => l.join("\n") + "\n";

export const configCases: ConfigCase[] = [
  {
    name: "skynet's example form: nodes, a comment, __nowaiting",
    text: lines(
      "__nowaiting = true -- fail at once for an absent node",
      "",
      'db = "127.0.0.1:2528"',
      'db2 = "127.0.0.1:2529"',
    ),
    weft: { nodes: [["db", "127.0.0.1:2528"], ["db2", "127.0.0.1:2529"]], nowaiting: true },
  },
  {
    name: "local variables and .. concatenation",
    text: lines('local host = "127.0.0.1"', 'db = host .. ":2528"', 'db2 = host..":" .. 2529'),
    weft: { nodes: [["db", "127.0.0.1:2528"], ["db2", "127.0.0.1:2529"]], nowaiting: false },
  },
  {
    name: "several assignments on a line, with and without separators",
    text: lines('a = "127.0.0.1:1" b = "127.0.0.1:2"; c = false', "d, e = false, '127.0.0.1:5'"),
    weft: {
      nodes: [["a", "127.0.0.1:1"], ["b", "127.0.0.1:2"], ["c", false], ["d", false], [
        "e",
        "127.0.0.1:5",
      ]],
      nowaiting: false,
    },
  },
  {
    name: "long strings and long comments of any level",
    text: lines(
      "db = [[127.0.0.1:2528]]",
      "--[==[ a comment",
      'db2 = "127.0.0.1:9"',
      "]] still the comment ]==]",
      "db3 = [==[127.0.0.1:2530]==] --[[ inline ]] db4 = false",
    ),
    weft: {
      nodes: [["db", "127.0.0.1:2528"], ["db3", "127.0.0.1:2530"], ["db4", false]],
      nowaiting: false,
    },
  },
  {
    name: "a key set twice keeps its last value",
    text: lines('db = "127.0.0.1:1"', 'other = "127.0.0.1:3"', 'db = "127.0.0.1:2"'),
    weft: { nodes: [["other", "127.0.0.1:3"], ["db", "127.0.0.1:2"]], nowaiting: false },
  },
  {
    name: "a node set to nil is absent",
    text: lines('db = "127.0.0.1:1"', "db = nil", 'db2 = "127.0.0.1:2"'),
    weft: { nodes: [["db2", "127.0.0.1:2"]], nowaiting: false },
  },
  {
    name: "names that are not identifiers, through _ENV",
    text: lines('_ENV["odd-name"] = "[::1]:7000"', '_ENV.db = "127.0.0.1:1"'),
    weft: { nodes: [["odd-name", "[::1]:7000"], ["db", "127.0.0.1:1"]], nowaiting: false },
  },
  {
    name: "functions, loops and string methods",
    text: lines(
      'local function at(port) return ("127.0.0.1:%d"):format(port) end',
      "for i = 1, 2 do",
      '  _ENV["db" .. i] = at(2527 + i)',
      "end",
      "down = false",
    ),
    weft: {
      nodes: [["db1", "127.0.0.1:2528"], ["db2", "127.0.0.1:2529"], ["down", false]],
      nowaiting: false,
    },
  },
  {
    name: "escapes in strings",
    text: lines('db = "127.0.0.1\\u{3a}2528"', "db2 = '127.0.0.1\\x3a2529'"),
    weft: { nodes: [["db", "127.0.0.1:2528"], ["db2", "127.0.0.1:2529"]], nowaiting: false },
  },
  {
    name: "__nowaiting by Lua truth: 1 is on",
    text: lines("__nowaiting = 1", 'db = "127.0.0.1:1"'),
    weft: { nodes: [["db", "127.0.0.1:1"]], nowaiting: true },
  },
  {
    name: "__nowaiting = false, and other __ options accepted and ignored",
    text: lines("__nowaiting = false", "__other = { 1, 2 }", 'db = "127.0.0.1:1"'),
    weft: { nodes: [["db", "127.0.0.1:1"]], nowaiting: false },
  },
  {
    name: "an unknown global reads as nil: the node is absent",
    text: lines("db = host", 'db2 = "127.0.0.1:2"'),
    weft: { nodes: [["db2", "127.0.0.1:2"]], nowaiting: false },
  },
  {
    name: "an empty file",
    text: "",
    weft: { nodes: [], nowaiting: false },
  },
  {
    name: "a return at the end",
    text: lines('db = "127.0.0.1:1"', "return"),
    weft: { nodes: [["db", "127.0.0.1:1"]], nowaiting: false },
  },
  {
    name: "refused: a syntax error",
    text: lines('db = "127.0.0.1:1"', "db2 = = 2"),
    weft: { refusedAt: 2 },
  },
  {
    name: "refused: ['x'] = ... at top level is not Lua",
    text: lines('db = "127.0.0.1:1"', '["x"] = "127.0.0.1:2"'),
    weft: { refusedAt: 2 },
  },
  {
    name: "refused: a global function (print) is not there",
    text: lines('db = "127.0.0.1:1"', "", 'print("hello")'),
    weft: { refusedAt: 3 },
  },
  {
    name: "refused: an unfinished long string",
    text: lines('db = "127.0.0.1:1"', "db2 = [[127.0.0.1:2", "more"),
    weft: { refusedAt: 4 },
  },
  {
    name: "refused: a number as a node's address",
    text: lines('db = "127.0.0.1:1"', "db2 = 2529"),
    weft: { refusedAt: 2 },
    skynet: { refusedAt: 0 },
    why: "skynet's assertion after the run names no line; weft names the line",
  },
  {
    name: "refused: true as a node's address",
    text: lines("db = true"),
    weft: { refusedAt: 1 },
    skynet: { refusedAt: 0 },
    why: "skynet's assertion after the run names no line; weft names the line",
  },
  {
    name: "refused: a table as a node's address",
    text: lines('db = { "127.0.0.1:1" }'),
    weft: { refusedAt: 1 },
    skynet: { refusedAt: 0 },
    why: "skynet's assertion after the run names no line; weft names the line",
  },
  {
    name: "refused: a key that is not a string",
    text: lines('db = "127.0.0.1:1"', '_ENV[1] = "127.0.0.1:2"'),
    weft: { refusedAt: 2 },
    skynet: { refusedAt: 0 },
    why:
      "skynet fails indexing the number key after the run, naming clusterd's line, not the config's",
  },
  {
    name: "weft only: an address that is not host:port",
    text: lines('db = "127.0.0.1:1"', 'db2 = "nohost"'),
    weft: { refusedAt: 2 },
    skynet: { nodes: [["db", "127.0.0.1:1"], ["db2", "nohost"]], nowaiting: false },
    why:
      "skynet takes any string and fails when it connects; weft checks the address when it loads",
  },
  {
    name: "weft only: an empty node name",
    text: lines('_ENV[""] = "127.0.0.1:1"'),
    weft: { refusedAt: 1 },
    skynet: { nodes: [["", "127.0.0.1:1"]], nowaiting: false },
    why: "a node name travels in weft's handshake and must be 1 to 255 bytes",
  },
  {
    name: "Lua 5.4 and 5.5: assigning a for loop's variable",
    text: lines("for i = 1, 1 do i = 2 end", 'db = "127.0.0.1:1"'),
    weft: { nodes: [["db", "127.0.0.1:1"]], nowaiting: false },
    skynet: { refusedAt: 1 },
    why:
      "skynet runs Lua 5.5, where a for loop's variable is read-only; weft's Lua (wasmoon) is 5.4",
  },
];
