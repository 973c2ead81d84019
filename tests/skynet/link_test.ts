// The sans-I/O ends of a skynet connection (src/session/skynet_link.ts)
// against the captured traffic: the agent takes skynet's recorded request
// stream, the sender skynet's recorded responses. (live_test.ts runs both
// against a real skynet when SKYNET is set.)

import assert from "node:assert/strict";
import { isWeftError, RemoteError, WeftError } from "../../src/errors.ts";
import { packValues, unpackValues } from "../../src/codec/skynet.ts";
import { SkynetAgent, type SkynetIncoming, SkynetSender } from "../../src/session/skynet_link.ts";
import { encodeSkynetResponse, SKYNET_MAX_SESSION } from "../../src/wire/skynet_packet.ts";
import { cluster, fromHex } from "./_fixtures.ts";

const concat = (frames: Uint8Array[]) => {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
};

Deno.test("SkynetAgent: skynet's recorded request stream, fed byte by byte, gives every request to the dispatcher", () => {
  const seen: SkynetIncoming[] = [];
  const written: Uint8Array[] = [];
  const agent = new SkynetAgent({
    write: (frames) => written.push(...frames),
    dispatch: (incoming) => {
      seen.push(incoming);
      return { ok: true, message: packValues(["ok"]) };
    },
  });
  const stream = concat(cluster.requests.map((f) => fromHex(f.hex)));
  for (let i = 0; i < stream.length; i++) agent.receive(stream.subarray(i, i + 1));
  // The step markers (small pushes to @mark) are requests too.
  const markers = seen.filter((r) => r.address === "@mark").length;
  assert.equal(seen.length - markers, cluster.messages.length);
  const real = seen.filter((r) => r.address !== "@mark");
  for (let i = 0; i < real.length; i++) {
    assert.equal(
      real[i]!.push,
      cluster.messages[i]!.session === 0 || cluster.messages[i]!.response.length === 0,
    );
  }
  assert.deepEqual(unpackValues(real[0]!.message), ["SET", "a", "foobar"]);
  assert.equal(real[1]!.address, 0); // cluster.query
  assert.ok(real.at(-1)!.trace !== undefined);
  // Answers only for calls: one frame each here.
  assert.equal(written.length, cluster.messages.filter((m) => m.response.length > 0).length);
  assert.equal(agent.inFlight, 0);
});

Deno.test("SkynetAgent: errors, async answers, pushes, and the in-flight bound", async () => {
  const written: Uint8Array[] = [];
  const releases: (() => void)[] = [];
  const agent = new SkynetAgent({
    write: (frames) => written.push(...frames),
    maxInFlight: 2,
    dispatch: (incoming) => {
      const [cmd] = unpackValues(incoming.message);
      if (cmd === "throw") throw new Error("boom");
      if (cmd === "wait") {
        return new Promise((resolve) => {
          releases.push(() => resolve({ ok: true, message: packValues([1]) }));
        });
      }
      return { ok: false, text: "x".repeat(40_000) };
    },
  });
  const sender = new SkynetSender({ write: (frames) => frames.forEach((f) => agent.receive(f)) });
  const answers: Uint8Array[] = [];
  const pending = [
    sender.call("@s", packValues(["throw"])),
    sender.call("@s", packValues(["long error"])),
    sender.call("@s", packValues(["wait"])),
  ];
  for (const frame of written.splice(0)) answers.push(frame);
  for (const frame of answers) sender.receive(frame);
  const thrown = await pending[0]!.response.catch((e) => e);
  assert.ok(thrown instanceof RemoteError && /boom/.test(thrown.message) && thrown.mayHaveRun);
  const long = await pending[1]!.response.catch((e) => e);
  assert.ok(long instanceof RemoteError && long.remote.message.length === 32768); // cut as skynet cuts
  assert.equal(agent.inFlight, 1);
  sender.call("@s", packValues(["wait"]));
  assert.throws(
    () => sender.call("@s", packValues(["wait"])),
    (e: unknown) => isWeftError(e, "protocol"),
  );
  for (const release of releases) release();
  await new Promise((r) => setTimeout(r, 0));
  for (const frame of written.splice(0)) sender.receive(frame);
  assert.deepEqual(unpackValues(await pending[2]!.response), [1]);
});

Deno.test("SkynetSender: skynet's recorded responses settle the calls, by session", async () => {
  const sender = new SkynetSender({ write: () => {} });
  const calls = new Map<number, Promise<Uint8Array>>();
  for (const m of cluster.messages) {
    if (m.response.length === 0) continue;
    // Take sessions up to the recorded one (pushes took some).
    while (sender.nextSession < m.session) sender.push("@x", new Uint8Array(40_000));
    const call = sender.call("@sdb", packValues(["x"]));
    assert.equal(call.session, m.session);
    calls.set(m.session, call.response.catch((e) => e));
  }
  const stream = concat(cluster.responses.map((f) => fromHex(f.hex)));
  for (let i = 0; i < stream.length; i += 7) sender.receive(stream.subarray(i, i + 7));
  assert.equal(sender.waiting, 0);
  const byStep = (step: string) =>
    calls.get(cluster.messages.find((m) => m.step.startsWith(step))!.session)!;
  assert.deepEqual(unpackValues(await byStep("call numeric address, small") as Uint8Array), [
    "foobar",
  ]);
  assert.equal(
    (unpackValues(await byStep("call @name, multipart response") as Uint8Array)[0] as string)
      .length,
    40 * 1024,
  );
  const invalid = await byStep("call unknown @name");
  assert.ok(isWeftError(invalid, "unknown service") && !invalid.mayHaveRun);
  const failed = await byStep("call @name, handler error");
  assert.ok(
    failed instanceof RemoteError && failed.mayHaveRun && /call failed/.test(failed.message),
  );
});

Deno.test("SkynetSender: sessions wrap to 1 and skip one still waiting; close fails the calls in flight", async () => {
  const frames: Uint8Array[] = [];
  const sender = new SkynetSender({
    write: (f) => frames.push(...f),
    firstSession: SKYNET_MAX_SESSION,
  });
  const last = sender.call(1, packValues([1]));
  assert.equal(last.session, SKYNET_MAX_SESSION);
  const first = sender.call(1, packValues([1]));
  assert.equal(first.session, 1);
  // a small push takes no session
  sender.push(1, packValues([1]));
  assert.equal(sender.nextSession, 2);
  for (const f of encodeSkynetResponse(1, true, packValues([7]))) sender.receive(f);
  assert.deepEqual(unpackValues(await first.response), [7]);
  // wrap again onto a session still waiting: skipped
  const again = new SkynetSender({ write: () => {}, firstSession: SKYNET_MAX_SESSION });
  const held = again.call(1, packValues([1]));
  const others = [1, 2].map(() => again.call(1, packValues([1])).response.catch((e) => e));
  assert.equal(again.nextSession, 3);
  again.close(new WeftError("closed", "peer gone"));
  const lost = await held.response.catch((e) => e);
  assert.ok((await Promise.all(others)).every((e) => isWeftError(e, "closed")));
  assert.ok(isWeftError(lost, "closed") && lost.mayHaveRun);
  assert.throws(
    () => again.call(1, packValues([1])),
    (e: unknown) => isWeftError(e, "closed") && !e.mayHaveRun,
  );
  sender.close(new WeftError("closed", "test over"));
  await last.response.catch(() => {});
  assert.equal(sender.forget(12345), false);
});
