// A ModeLink that records what a mode asks of its connection, for tests
// that drive a mode (or its handshake) without a socket.

import type { WeftError } from "../../src/errors.ts";
import type { ModeLink } from "../../src/protocol/mode.ts";
import type { Frame } from "../../src/wire/frame.ts";

/** What a {@linkcode RecordingLink} saw. */
export class RecordingLink implements ModeLink {
  readonly peer = "a test peer";
  closed = false;
  flushes = 0;
  paused = 0;
  isReady = false;
  hello: Map<number, Uint8Array> | undefined;
  nodeName: string | undefined;
  keyId: string | undefined;
  readonly frames: Frame[] = [];
  failed: WeftError | undefined;
  readonly softLimits: number[] = [];
  readonly cancels: number[] = [];
  readonly pongs: number[] = [];
  readonly acked: number[] = [];
  readonly infos: [number, Uint8Array][] = [];

  flush(): void {
    this.flushes++;
  }
  pauseReading(): void {
    this.paused++;
  }
  resumeReading(): void {
    this.paused--;
  }
  ready(): void {
    this.isReady = true;
  }
  peerHello(fields: Map<number, Uint8Array>, nodeName: string | undefined): void {
    this.hello = fields;
    this.nodeName = nodeName;
  }
  peerProved(keyId: string): void {
    this.keyId = keyId;
  }
  frame(frame: Frame): void {
    this.frames.push({ ...frame, payload: frame.payload.slice() });
  }
  fail(error: WeftError): void {
    this.failed = error;
    this.closed = true;
  }
  overSoftLimit(bodyLength: number): void {
    this.softLimits.push(bodyLength);
  }
  cancelled(session: number): void {
    this.cancels.push(session);
  }
  pong(seq: number): void {
    this.pongs.push(seq);
  }
  partsAcked(bytes: number): void {
    this.acked.push(bytes);
  }
  info(session: number, payload: Uint8Array): void {
    this.infos.push([session, payload]);
  }
}
