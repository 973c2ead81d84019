// The behaviour cases over the in-memory transport and Deno's sockets: the
// common cases in both protocols, then weft mode's own. run_cases.ts runs the
// same cases under Bun and Node.
import { cases } from "./cases.ts";
import { weftCases } from "./weft_cases.ts";
import { limitCases, weftLimitCases } from "./limits_cases.ts";
import { tracingCases, weftTracingCases } from "./tracing_cases.ts";
import { transport as memory } from "../../src/transport/memory.ts";
import { transport as deno } from "../../src/transport/deno.ts";

for (const [name, transport] of [["memory", memory], ["deno", deno]] as const) {
  for (const protocol of ["weft", "silly"] as const) {
    for (const c of [...cases, ...limitCases, ...tracingCases]) {
      Deno.test(
        `Cluster (${name}, ${protocol}) ${c.name}`,
        () => c.fn({ transport, host: "127.0.0.1", protocol }),
      );
    }
  }
  for (const c of [...weftCases, ...weftLimitCases, ...weftTracingCases]) {
    Deno.test(`Cluster (${name}) ${c.name}`, () =>
      c.fn({ transport, host: "127.0.0.1", protocol: "weft" }));
  }
}
