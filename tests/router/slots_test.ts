/** `SlotTable` (src/router/slots.ts): fixed slots that outlive a member's leaving by a grace period. */

import { SlotTable } from "../../src/router/slots.ts";
import { slotOwner } from "../../src/router/hash.ts";

Deno.test("`SlotTable` keeps a leaving member's slots through the grace, then forgets them (the module's example)", () => {
  let clock = 0;
  const table = new SlotTable({ grace: 1000, maxDead: 2, clock: () => clock });
  for (const id of [1, 2, 3]) table.join(id);
  table.leave(2);
  const live = [1, 3];
  for (let k = 0; k < 30; k++) {
    if (table.owner(k, live) !== slotOwner(k, [1, 2, 3], (id) => id !== 2)) throw new Error("!");
  }
  clock = 1000; // the grace is over: slot 2 is forgotten
  if (table.owner(0, live) !== 1 || table.size !== 2) throw new Error("not forgotten");
});
