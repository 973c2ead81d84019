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
  env: Record<string, string | undefined>;
  pid: number;
  once(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  off(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  stderr: { isTTY?: boolean; write(text: string): unknown };
  stdout: { isTTY?: boolean; columns?: number; rows?: number; write(text: string): unknown };
  stdin: AsyncIterable<Uint8Array | string> & { isTTY?: boolean };
}

// Bun and Deno both have a Node-compatible global `process` (Deno since 2.0),
// so everything below that is not signals or the exit code goes through it.
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

/** An environment variable, or undefined. */
export function env(name: string): string | undefined {
  return g.process?.env[name];
}

/** This process's id. */
export function pid(): number {
  return g.process?.pid ?? 0;
}

/** True when stdout is a terminal. */
export function stdoutIsTTY(): boolean {
  return g.process?.stdout.isTTY === true;
}

/** The terminal's size (80 x 24 when not a terminal). */
export function terminalSize(): { columns: number; rows: number } {
  const out = g.process?.stdout;
  return { columns: out?.columns ?? 80, rows: out?.rows ?? 24 };
}

/** Writes text to stdout as it is (no newline added). */
export function writeStdout(text: string): void {
  g.process?.stdout.write(text);
}

/** Everything on stdin, as bytes, up to `limit` bytes. */
export async function readStdin(limit: number): Promise<Uint8Array> {
  const stdin = g.process?.stdin;
  if (stdin === undefined) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    size += bytes.length;
    if (size > limit) throw new RangeError(`stdin is over ${limit} bytes`);
    parts.push(bytes);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) (out.set(part, at), at += part.length);
  return out;
}
