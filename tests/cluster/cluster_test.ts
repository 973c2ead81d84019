import { cases } from "./cases.ts";
import { transport as memory } from "../../src/transport/memory.ts";
import { transport as deno } from "../../src/transport/deno.ts";

for (const c of cases) {
  Deno.test(`Cluster (memory) ${c.name}`, () => c.fn({ transport: memory, host: "127.0.0.1" }));
}
for (const c of cases) {
  Deno.test(`Cluster (deno) ${c.name}`, () => c.fn({ transport: deno, host: "127.0.0.1" }));
}
