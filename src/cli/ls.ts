/**
 * `weft ls` and `weft describe`: what a node, a named node, a router, a
 * service (through a router) or a registry node is and serves, answered by
 * the node itself (an INFO `describe` request; the node may refuse it with
 * `introspect: false` or `authorize`). `ls` prints it for people,
 * `describe` as JSON (like grpcurl's `list` and `describe`).
 *
 * @module
 */

import { choiceArg, UsageError } from "./args.ts";
import {
  CONTEXT_HELP,
  formatError,
  NETWORK_BOOLEANS,
  NETWORK_FLAGS,
  NETWORK_HELP,
  networkOptions,
  subcommand,
} from "./common.ts";
import { openOrReport, TARGET_FLAGS, TARGET_HELP, targetArgs } from "./target.ts";
import { TRUST_HELP } from "./trust.ts";
import type { Subcommand } from "./subcommand.ts";
import { formatServiceId } from "../router/service_id.ts";

const help = (name: string, what: string, example: string) =>
  `weft ${name} [host:port] [options]

${what}

  [host:port]   the node (or the context's address; not needed with --router, or with
                --node and --config/--registry)
${TARGET_HELP}
  --format text|json         output (default ${name === "ls" ? "text" : "json"})
${NETWORK_HELP}
${TRUST_HELP}
${CONTEXT_HELP}

Examples:
${example}

Exit code: 0 printed, 1 the node did not answer or refused (the error's code is
printed), 2 bad arguments.`;

/** Milliseconds as `3.2 s`, `4 min`, `2.1 h`. */
export function formatUptime(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

type Described = Record<string, unknown> & {
  kind?: string;
  runtime?: string;
  version?: string;
  uptimeMs?: number;
  listening?: string[];
  connections?: number;
};

/** A `describe` answer as the lines `weft ls` prints. */
export function describeText(where: string, d: Described): string {
  const lines: string[] = [];
  const kind = d.kind ?? "node";
  const head = `${kind} ${where}: ${d.runtime ?? "?"}, weft ${d.version ?? "?"}, up ${
    formatUptime(d.uptimeMs ?? NaN)
  }, ${d.connections ?? "?"} connections`;
  lines.push(head);
  if (Array.isArray(d.listening) && d.listening.length > 0) {
    lines.push(`  listening ${d.listening.join(", ")}`);
  }
  if (d.nodeName !== undefined) lines.push(`  node name ${d.nodeName}`);
  switch (kind) {
    case "node": {
      const services = (d.services ?? {}) as Record<string, string[]>;
      const names = Object.keys(services);
      lines.push(`  services${names.length === 0 ? " (none)" : ""}`);
      for (const name of names) lines.push(`    ${name}  ${services[name]!.join(", ")}`);
      const nodes = Object.entries((d.nodes ?? {}) as Record<string, string | false>);
      if (nodes.length > 0) {
        lines.push(
          `  node table  ${nodes.map(([n, a]) => `${n}=${a === false ? "down" : a}`).join(", ")}`,
        );
      }
      const connected = (d.connected ?? []) as string[];
      if (connected.length > 0) lines.push(`  connected to  ${connected.join(", ")}`);
      break;
    }
    case "router": {
      const groups = (d.groups ?? []) as {
        group: number;
        members: number[];
        master: { id: number; fence: number } | null;
      }[];
      lines.push(`  services ${((d.services ?? []) as number[]).map(formatServiceId).join(", ")}`);
      lines.push("  group  members                       master (fence)");
      for (const g of groups) {
        const master = g.master === null
          ? "-"
          : g.master.id < 0
          ? `none (${g.master.fence})`
          : `${formatServiceId(g.master.id)} (${g.master.fence})`;
        lines.push(
          `  ${String(g.group).padEnd(5)}  ${
            (g.members.map(formatServiceId).join(" ") || "-").padEnd(28)
          }  ${master}`,
        );
      }
      break;
    }
    case "service": {
      const routers = (d.routers ?? []) as { address: string; alive: boolean }[];
      lines.push(
        `  service id ${formatServiceId(d.id as number)}, router in use ${d.router ?? "-"}`,
      );
      lines.push(
        `  routers ${routers.map((r) => `${r.address}${r.alive ? "" : " (down)"}`).join(", ")}`,
      );
      break;
    }
    case "registry":
      lines.push(
        `  keys ${d.keys}, leases ${d.leases}, revision ${d.revision}, watches waiting ${d.watches}`,
      );
      break;
  }
  const commands = d.commands as Record<string, number> | undefined;
  if (commands !== undefined) {
    lines.push(
      `  commands ${
        Object.entries(commands).map(([name, n]) => `${name} (${n})`).join(", ") || "(none)"
      }`,
    );
  } else if (kind === "cluster" || kind === "service") {
    lines.push("  commands: no command table (call them by number)");
  }
  return lines.join("\n");
}

function lsCommand(name: "ls" | "describe", what: string, example: string): Subcommand {
  return subcommand({
    name,
    summary: name === "ls"
      ? "list what a node, named node, router, service or registry serves"
      : "the same as JSON (a node's INFO describe answer)",
    help: help(name, what, example),
    values: { ...NETWORK_FLAGS, ...TARGET_FLAGS, format: name === "ls" ? "text" : "json" },
    booleans: [...NETWORK_BOOLEANS],
    async run(parsed) {
      const { address, rest } = targetArgs(parsed);
      if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
      const format = choiceArg("--format", parsed.values.format, ["text", "json"] as const);
      const options = await networkOptions(parsed);
      const target = await openOrReport(name, parsed, address, options);
      if (target === undefined) return 1;
      try {
        const answer = await target.info("describe");
        if (format === "json") console.log(JSON.stringify(answer, null, 2));
        else if (Array.isArray(answer)) {
          // A broadcast: one answer per member.
          for (const o of answer as { id: string; ok: boolean; value?: Described }[]) {
            console.log(
              o.ok ? describeText(`${o.id} (${target.where})`, o.value!) : `${o.id}: failed`,
            );
          }
        } else console.log(describeText(target.where, answer as Described));
        return 0;
      } catch (error) {
        console.error(`weft ${name}: ${formatError(error)}`);
        return 1;
      } finally {
        await target.close();
      }
    },
  });
}

/** The `ls` subcommand. */
export const ls: Subcommand = lsCommand(
  "ls",
  "Lists what a node is and serves, as the node itself says (an INFO describe request):\n" +
    "a plain node's commands, a named node's services and their commands, a router's\n" +
    "groups with their members and masters, a service's routers, a registry's keys.",
  `  weft ls 127.0.0.1:7000
  weft ls --router 127.0.0.1:7000                       # the router: groups, masters
  weft ls --router 127.0.0.1:7000 --route target:1.2    # service 1.2, through it
  weft ls --node db --registry 127.0.0.1:7400           # named node db`,
);

/** The `describe` subcommand. */
export const describe: Subcommand = lsCommand(
  "describe",
  "Prints a node's INFO describe answer as JSON (what weft ls shows, in full).",
  `  weft describe 127.0.0.1:7000
  weft describe --router 127.0.0.1:7000 --route broadcast:2`,
);
