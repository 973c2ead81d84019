// Protected mode (Redis's model): a router, a registry node and a named node
// without credentials refuse to listen on an address other than loopback,
// with an error that says how to add keys or TLS, unless opted out; loopback
// stays open. In a child process on each runtime.

import assert from "node:assert/strict";
import { hasCredentials, isLoopback } from "../../src/cluster/protected_mode.ts";
import { Router } from "../../src/router/router.ts";
import { Nodes } from "../../src/nodes/nodes.ts";
import { serveRegistry } from "../../src/discovery/remote.ts";
import { runScript } from "../_runtimes.ts";
import { makeCerts } from "../security/_certs.ts";

const CHILD = new URL("./_protected_child.ts", import.meta.url).pathname;

Deno.test("isLoopback() and hasCredentials(): what counts as loopback and as credentials", () => {
  for (
    const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]
  ) {
    assert.ok(isLoopback(host), host);
  }
  for (
    const host of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "127.0.0.1.nip.io"]
  ) {
    assert.ok(!isLoopback(host), host);
  }
  assert.ok(!hasCredentials({}));
  assert.ok(!hasCredentials({ tls: { cert: "c", key: "k" } }), "TLS alone proves only the server");
  assert.ok(hasCredentials({ tls: { requireClientCert: true } }));
  assert.ok(hasCredentials({ auth: { keys: { a: "0123456789abcdef" }, keyId: "a" } }));
});

Deno.test("protectedMode must be a boolean, named in the TypeError", async () => {
  const bad = "no" as unknown as boolean;
  assert.throws(() => new Router({ protectedMode: bad }), /protectedMode/);
  assert.throws(() => new Nodes({ protectedMode: bad }), /protectedMode/);
  await assert.rejects(serveRegistry("127.0.0.1:0", { protectedMode: bad }), /protectedMode/);
});

for (const runtime of ["deno", "bun", "node"] as const) {
  Deno.test(`protected mode (${runtime}): without credentials, every interface is refused with a code and the fix; opting out, keys or client-certificate TLS, or loopback listen`, async () => {
    const certs = await makeCerts();
    const result = await runScript(runtime, CHILD, [certs.dir], 90_000);
    assert.equal(result.code, 0, result.stderr);
    const out = new Map(
      result.stdout.split("\n").filter((l) => / (listening|refused)/.test(l)).map((l) => {
        const [layer, name, ...rest] = l.split(" ");
        return [`${layer} ${name}`, rest.join(" ")];
      }),
    );
    for (const layer of ["router", "registry", "node"]) {
      for (const refused of ["bare", "tls"]) {
        const line = out.get(`${layer} ${refused}`) ?? "(missing)";
        assert.match(line, /^refused protected mode: Refusing to listen on 0\.0\.0\.0:0/, line);
        assert.match(line, /auth: \{ keys, keyId \}/);
        assert.match(line, /requireClientCert: true/);
        assert.match(line, /protectedMode: false/);
      }
      for (const open of ["optout", "keys", "mtls", "loopback"]) {
        assert.equal(out.get(`${layer} ${open}`), "listening", `${layer} ${open}`);
      }
    }
  });
}
