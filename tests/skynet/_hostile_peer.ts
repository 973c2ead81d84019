// A hostile skynet peer, run as its own process by hostile_test.ts (under
// Node): connects to HOST:PORT once per attack, sends it, and prints
// "CLOSED <attack>" when the node closed that connection, or "OPEN <attack>"
// if it was still open after 3 s. Then "DONE".

import net from "node:net";
import process from "node:process";

const [host, portText] = (process.argv[2] ?? "").split(":");
const port = Number(portText);

function frame(hex: string): Buffer {
  const body = Buffer.from(hex, "hex");
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

const attacks: [string, Buffer][] = [
  // An unknown request type.
  ["unknown type", frame("09000000000000000000")],
  // A large request announcing 16 MiB: over maxMessageSize (4 MiB).
  ["header over maxMessageSize", frame("81044073646207000000" + "00000001")],
  // More large requests in parts than maxPartialMessages: headers of 64 KiB each, never finished.
  [
    "messages in parts without end",
    Buffer.concat(
      Array.from({ length: 70 }, (_, i) => {
        const session = Buffer.alloc(4);
        session.writeUInt32LE(i + 1);
        return frame(`8104407364 62${session.toString("hex")}00000100`.replaceAll(" ", ""));
      }),
    ),
  ],
  // A packet shorter than its type needs.
  ["cut packet", frame("00010203")],
];

for (const [name, bytes] of attacks) {
  const closed = await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, host, () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 3000);
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  console.log(`${closed ? "CLOSED" : "OPEN"} ${name}`);
}
console.log("DONE");
