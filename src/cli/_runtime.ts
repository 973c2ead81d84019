// The few process-level things the `weft` command needs, on Deno, Bun and
// Node alike: its arguments, its exit code, and a Ctrl-C / SIGTERM hook.

interface DenoLike {
  args: string[];
  exitCode: number;
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  removeSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
}

interface ProcessLike {
  argv: string[];
  exitCode: number | undefined;
  once(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  off(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  stderr: { isTTY?: boolean; write(text: string): unknown };
}

const g = globalThis as { Deno?: DenoLike; process?: ProcessLike };

/** The command-line arguments after the script. */
export function args(): string[] {
  if (g.Deno !== undefined) return g.Deno.args;
  return g.process?.argv.slice(2) ?? [];
}

/** Sets the exit code the process ends with once its event loop is empty. */
export function setExitCode(code: number): void {
  if (g.Deno !== undefined) g.Deno.exitCode = code;
  else if (g.process !== undefined) g.process.exitCode = code;
}

/** Calls `handler` once on SIGINT or SIGTERM; the returned function unhooks it. */
export function onInterrupt(handler: () => void): () => void {
  const signals = ["SIGINT", "SIGTERM"] as const;
  let fired = false;
  const once = () => {
    if (fired) return;
    fired = true;
    off();
    handler();
  };
  const off = () => {
    for (const s of signals) {
      if (g.Deno !== undefined) g.Deno.removeSignalListener(s, once);
      else g.process?.off(s, once);
    }
  };
  for (const s of signals) {
    if (g.Deno !== undefined) g.Deno.addSignalListener(s, once);
    else g.process?.once(s, once);
  }
  return off;
}

/** Writes a progress line: rewritten in place on a terminal, one per line otherwise. */
export function progress(line: string): void {
  const stderr = g.process?.stderr;
  if (stderr?.isTTY) stderr.write(`\r${line}\x1b[K`);
  else console.error(line);
}

/** Ends the progress line on a terminal (elsewhere each line is already whole). */
export function progressDone(): void {
  const stderr = g.process?.stderr;
  if (stderr?.isTTY) stderr.write("\n");
}
