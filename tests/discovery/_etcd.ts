/**
 * A real etcd for the tests (started by examples/_etcd.ts). Where `etcd` is
 * not on PATH the etcd tests are ignored with one line of explanation,
 * except under CI (`CI=true`), where a missing etcd fails the run.
 */

import { found } from "../../examples/_etcd.ts";

export { type EtcdServer, startEtcd } from "../../examples/_etcd.ts";

/** True when the etcd tests must be skipped (no etcd, and not under CI). */
export const noEtcd: boolean = found === undefined && Deno.env.get("CI") !== "true";

let said = false;
/** Prints, once per file, why the etcd tests are ignored. */
export function sayWhyIgnored(file: string): void {
  if (noEtcd && !said) {
    said = true;
    console.log(`${file}: etcd is not on PATH: etcd tests ignored (apt-get install etcd-server)`);
  }
}
