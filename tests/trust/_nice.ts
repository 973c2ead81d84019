/**
 * Lowers a child process to the lowest CPU priority (nice 19, every thread
 * it has), Linux only (elsewhere nothing happens). The attack tests run
 * their attackers so: on a small machine a process attacking in a busy loop
 * takes a core from the processes under test, which an attacker on another
 * machine would not; at nice 19 it runs on what they leave idle, and what is
 * measured is what the attack costs the node attacked. Deno only.
 */

/** Renices every thread of process `pid` to 19 (again later for threads started since). */
export async function lowerPriority(pid: number): Promise<void> {
  let tids: string[];
  try {
    tids = [];
    for await (const entry of Deno.readDir(`/proc/${pid}/task`)) tids.push(entry.name);
  } catch {
    return; // not Linux, or already gone
  }
  if (tids.length === 0) return;
  await new Deno.Command("renice", {
    args: ["-n", "19", "-p", ...tids],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
}
