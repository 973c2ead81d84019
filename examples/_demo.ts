/**
 * The node of the demo cluster (examples/demo.ts), shared by the demo's own
 * Deno node and the Bun and Node children (examples/demo_node.ts).
 *
 * Commands: `whoami` (the runtime's name), `ping` (echoes a timestamp with
 * the runtime's name), `peers` (the coordinator tells a node every node's
 * address), `run` (call every other node and report round-trip times),
 * `quit` (one-way: close the node).
 */

import { Cluster } from "../src/cluster/cluster.ts";
import { Commands } from "../src/codec/commands.ts";
import { json } from "../src/codec/json.ts";
import { isWeftError } from "../src/errors.ts";
import { formatAddress } from "../src/transport/address.ts";
import { detectRuntime } from "../src/transport/detect.ts";

/** The demo's command table. */
export const DEMO_COMMANDS = new Commands({
  whoami: 1,
  ping: 2,
  peers: 3,
  run: 4,
  quit: 5,
});

/** Pings each node sends to each other node (after one whoami). */
export const PINGS = 5;

/** What one caller saw of one callee. */
export interface PairReport {
  caller: string;
  callee: string;
  address: string;
  /** The runtime the callee said it runs on (its `whoami`). */
  runtime: string;
  calls: number;
  replies: number;
  /** Round-trip times of the pings, in ms. */
  rtts: number[];
  errors: string[];
}

/** A running demo node. */
export interface DemoNode {
  name: string;
  cluster: Cluster;
  address: string;
  /** Resolves once a `quit` arrived (the node is then closing). */
  quit: Promise<void>;
  /** Sets the other nodes' addresses (as `peers` does): name -> `host:port`. */
  setPeers(addresses: Record<string, string>): void;
  /** Calls every other node (as `run` does) and reports. */
  run(): Promise<PairReport[]>;
}

function describe(error: unknown): string {
  return isWeftError(error) ? `${error.code}: ${error.message}` : String(error);
}

/** Starts a demo node named after its runtime, listening on 127.0.0.1:0. */
export async function startDemoNode(): Promise<DemoNode> {
  const name = detectRuntime() ?? "unknown";
  let others: Record<string, string> = {};
  let onQuit!: () => void;
  const quit = new Promise<void>((resolve) => onQuit = resolve);

  const setPeers = (all: Record<string, string>) => {
    others = Object.fromEntries(Object.entries(all).filter(([n]) => n !== name));
  };
  const run = async (): Promise<PairReport[]> => {
    const reports: PairReport[] = [];
    for (const [callee, address] of Object.entries(others)) {
      const report: PairReport = {
        caller: name,
        callee,
        address,
        runtime: "?",
        calls: 0,
        replies: 0,
        rtts: [],
        errors: [],
      };
      reports.push(report);
      const peer = cluster.connect(address);
      try {
        report.calls++;
        const who = await cluster.call(peer, "whoami") as { runtime: string };
        report.replies++;
        report.runtime = who.runtime;
      } catch (error) {
        report.errors.push(`whoami: ${describe(error)}`);
      }
      for (let i = 0; i < PINGS; i++) {
        report.calls++;
        const started = performance.now();
        try {
          const pong = await cluster.call(peer, "ping", { sent: Date.now(), seq: i }) as {
            seq: number;
            runtime: string;
          };
          const rtt = performance.now() - started;
          if (pong.seq !== i) throw new Error(`pong ${pong.seq} for ping ${i}`);
          report.replies++;
          report.rtts.push(rtt);
        } catch (error) {
          report.errors.push(`ping ${i}: ${describe(error)}`);
        }
      }
    }
    return reports;
  };

  const cluster = new Cluster({
    ...json({ commands: DEMO_COMMANDS }),
    timeout: 5000,
    async call(_peer, cmd, body) {
      switch (DEMO_COMMANDS.nameOf(cmd)) {
        case "whoami":
          return { runtime: name };
        case "ping":
          return { ...(body as object), runtime: name, at: Date.now() };
        case "peers":
          setPeers(body as Record<string, string>);
          return { ok: true };
        case "run":
          return await run();
        case "quit":
          onQuit();
          return undefined;
      }
      return undefined;
    },
  });
  const listener = await cluster.listen("127.0.0.1:0");
  return { name, cluster, address: formatAddress(listener.address), quit, setPeers, run };
}
