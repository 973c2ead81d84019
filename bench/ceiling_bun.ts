/**
 * The raw-socket ceiling on Bun: a length-prefixed echo over `Bun.listen`/
 * `Bun.connect` (the socket handler API), with no weft code (see
 * _ceiling.ts). Bun's `write()` returns how much the kernel took; the rest
 * is queued here and sent from `drain`.
 *
 * ```sh
 * bun bench/ceiling_bun.ts server 127.0.0.1:0
 * bun bench/ceiling_bun.ts client 127.0.0.1:PORT --payload=32 --depth=1
 * bun bench/ceiling_bun.ts floor 127.0.0.1:PORT --payload=32 --depth=256
 * ```
 *
 * @module
 */

import { args, exit, loadCase, report } from "./_common.ts";
import { EchoCalls, EchoFramer, EchoLoad } from "./_ceiling.ts";

interface Sock {
  data: State;
  write(bytes: Uint8Array): number;
  setNoDelay(on: boolean): boolean;
  end(): void;
}
interface State {
  framer: EchoFramer;
  queue: Uint8Array[];
  load: { data(chunk: Uint8Array): void } | undefined;
}
declare const Bun: {
  listen(
    o: { hostname: string; port: number; socket: Handlers },
  ): { hostname: string; port: number };
  connect(o: { hostname: string; port: number; socket: Handlers }): Promise<Sock>;
};
interface Handlers {
  open(s: Sock): void;
  data(s: Sock, chunk: Uint8Array): void;
  drain(s: Sock): void;
  close(s: Sock): void;
  error(s: Sock, e: Error): void;
}

function hostPort(address: string): { hostname: string; port: number } {
  const at = address.lastIndexOf(":");
  return {
    hostname: address.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(address.slice(at + 1)),
  };
}

/** Writes now what the kernel takes; queues the rest. `keep` says the bytes stay valid. */
function send(s: Sock, bytes: Uint8Array, keep: boolean): void {
  const queue = s.data.queue;
  if (queue.length > 0) {
    queue.push(keep ? bytes : bytes.slice());
    return;
  }
  const n = s.write(bytes);
  if (n < bytes.length) {
    const tail = bytes.subarray(Math.max(0, n));
    queue.push(keep ? tail : tail.slice());
  }
}

function flush(s: Sock): void {
  const queue = s.data.queue;
  while (queue.length > 0) {
    const head = queue[0]!;
    const n = s.write(head);
    if (n < head.length) {
      queue[0] = head.subarray(Math.max(0, n));
      return;
    }
    queue.shift();
  }
}

const [mode, ...rest] = args;
if (mode === "server") {
  const server = Bun.listen({
    ...hostPort(rest[0] ?? "127.0.0.1:0"),
    socket: {
      open(s) {
        s.setNoDelay(true);
        s.data = { framer: new EchoFramer(), queue: [], load: undefined };
      },
      data(s, chunk) {
        const out = s.data.framer.feed(chunk);
        if (out !== null) send(s, out, false);
      },
      drain: flush,
      close() {},
      error() {},
    },
  });
  console.log(`listening ${server.hostname}:${server.port}`);
} else if (mode === "client" || mode === "floor") {
  const c = loadCase(rest);
  const socket = await Bun.connect({
    ...hostPort(c.address),
    socket: {
      open(s) {
        s.setNoDelay(true);
        s.data = { framer: new EchoFramer(), queue: [], load: undefined };
      },
      data(s, chunk) {
        s.data.load?.data(chunk);
      },
      drain: flush,
      close() {},
      error() {},
    },
  });
  // The load's requests are views of one constant buffer: no copy needed.
  const write = (bytes: Uint8Array) => send(socket, bytes, true);
  const load = mode === "floor" ? new EchoCalls(c, write) : new EchoLoad(c, write);
  socket.data.load = load;
  report(await load.run());
  socket.end();
  exit(0);
} else {
  console.error(
    "usage: ceiling_bun.ts server HOST:PORT | client|floor HOST:PORT [--payload=N --depth=N]",
  );
  exit(2);
}
