/**
 * A real etcd for the tests (started by examples/_etcd.ts). Where `etcd` is
 * not on PATH the etcd tests are ignored with one line of explanation,
 * except under CI (`CI=true`), where a missing etcd fails the run.
 */

import { found } from "../../examples/_etcd.ts";
import { until } from "../_wait.ts";

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

/**
 * The state of every thread of process `pid` (Linux: the letter after the
 * command name in /proc/PID/task/TID/stat, e.g. `S`, `R`, `T`), or
 * undefined where /proc cannot tell.
 */
export function threadStates(pid: number): string[] | undefined {
  try {
    const states: string[] = [];
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
      // The command name, in parentheses, may hold anything: the state follows its last ")".
      const state = stat.lastIndexOf(")") + 2;
      states.push(stat.slice(state, state + 1));
    }
    return states;
  } catch {
    return undefined;
  }
}

/**
 * Sends SIGSTOP to `pid` and waits until every thread of it is stopped (on
 * Linux; elsewhere it returns once the signal is sent). A test that checks
 * what happens while etcd cannot answer must not start before it cannot: a
 * loaded run of the suite once saw a watch created after the signal get its
 * snapshot from the etcd it had just stopped.
 */
export async function stopProcess(pid: number): Promise<void> {
  Deno.kill(pid, "SIGSTOP");
  await until(
    () => threadStates(pid)?.every((s) => s === "T" || s === "t") ?? true,
    0,
    `every thread of ${pid} to stop`,
  );
}
