// The behaviour cases over the in-memory transport and Deno's sockets, in
// both protocols. run_cases.ts runs the same cases under Bun and Node.
import { cases } from "./cases.ts";
import { transport as memory } from "../../src/transport/memory.ts";
import { transport as deno } from "../../src/transport/deno.ts";

for (const protocol of ["weft", "silly"] as const) {
  for (const [name, transport] of [["memory", memory], ["deno", deno]] as const) {
    for (const c of cases) {
      Deno.test(
        `Cluster (${name}, ${protocol}) ${c.name}`,
        () => c.fn({ transport, host: "127.0.0.1", protocol }),
      );
    }
  }
}
