/**
 * Key authentication in weft's handshake: each side proves that it holds a
 * pre-shared key by a keyed hash (HMAC-SHA-256, WebCrypto) over random
 * challenges from both sides. The key never crosses the wire, and a
 * captured handshake cannot be replayed: the other side's challenge is
 * fresh each time.
 *
 * The exchange (fields of HELLO and HELLO_ACK, see {@linkcode HelloField}):
 *
 * 1. HELLO (connecting side C): C's key id, C's challenge `nc` (32 bytes).
 * 2. HELLO_ACK (accepting side S): S's key id, S's challenge `ns`, and
 *    S's proof `HMAC(key[S's id], "weft-auth-v1 server" ‖ ids ‖ nc ‖ ns)`.
 * 3. AUTH (C, a control frame): C's proof, the same with "client" and
 *    C's key. S handles nothing of C's until it has checked it.
 *
 * A side whose check fails closes the connection with `authentication
 * failed`; the accepting side first sends an empty AUTH, which tells the
 * other only that authentication failed (not which part, nor whether the
 * key id is known).
 *
 * @module
 */

import { strictUtf8Decoder, utf8Encoder } from "../../_platform.ts";
import { WeftError } from "../../errors.ts";
import { HelloField } from "./protocol.ts";

/** Options of key authentication (the cluster's `auth` option). */
export interface AuthOptions {
  /**
   * The keys this node knows, by key id: at least 16 bytes each (a string
   * is taken as its UTF-8 bytes). One key for the whole cluster, or one per
   * node. A peer proves one of these; this node proves `keys[keyId]`.
   */
  keys: Readonly<Record<string, string | Uint8Array>>;
  /** The id of the key this node proves itself with; must be in `keys`. */
  keyId: string;
}

/** Bytes of each side's challenge. */
export const NONCE_SIZE = 32;
/** Shortest key accepted, in bytes. */
export const MIN_KEY_SIZE = 16;
/** Longest key id, in UTF-8 bytes. */
export const MAX_KEY_ID_SIZE = 64;

const SERVER_LABEL = utf8Encoder.encode("weft-auth-v1 server");
const CLIENT_LABEL = utf8Encoder.encode("weft-auth-v1 client");

interface Subtle {
  importKey(
    format: "raw",
    key: Uint8Array,
    algorithm: { name: "HMAC"; hash: "SHA-256" },
    extractable: boolean,
    usages: string[],
  ): Promise<unknown>;
  sign(algorithm: "HMAC", key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
  verify(
    algorithm: "HMAC",
    key: unknown,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
}

declare const crypto: {
  getRandomValues<T extends Uint8Array>(array: T): T;
  subtle: Subtle;
};

/** Checked keys, their imported WebCrypto forms made once. */
export class KeyRing {
  /** The id this node proves. */
  readonly keyId: string;
  readonly #raw = new Map<string, Uint8Array>();
  readonly #imported = new Map<string, Promise<unknown>>();

  /**
   * Checks the keys and keeps a copy of each.
   *
   * @param options The `auth` option.
   * @throws {TypeError} Naming the option, for a wrong type or a `keyId` not in `keys`.
   * @throws {RangeError} For a key shorter than 16 bytes or a key id over 64 bytes.
   */
  constructor(options: AuthOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Invalid option auth: expected { keys, keyId }");
    }
    const keys = options.keys;
    if (keys === null || typeof keys !== "object") {
      throw new TypeError("Invalid option auth.keys: expected an object of keys by id");
    }
    for (const [id, key] of Object.entries(keys)) {
      const bytes = typeof key === "string" ? utf8Encoder.encode(key) : key;
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError(`Invalid option auth.keys.${id}: expected a string or a Uint8Array`);
      }
      if (bytes.length < MIN_KEY_SIZE) {
        throw new RangeError(
          `Invalid option auth.keys.${id}: expected at least ${MIN_KEY_SIZE} bytes, got ${bytes.length}`,
        );
      }
      if (id === "" || utf8Encoder.encode(id).length > MAX_KEY_ID_SIZE) {
        throw new RangeError(
          `Invalid key id ${
            JSON.stringify(id)
          } in auth.keys: expected 1 to ${MAX_KEY_ID_SIZE} bytes`,
        );
      }
      this.#raw.set(id, bytes.slice());
    }
    if (typeof options.keyId !== "string" || !this.#raw.has(options.keyId)) {
      throw new TypeError(
        `Invalid option auth.keyId: expected one of the ids in auth.keys, got ${
          String(options.keyId)
        }`,
      );
    }
    this.keyId = options.keyId;
  }

  /** The WebCrypto key of `id`, or undefined for an unknown id. */
  key(id: string): Promise<unknown> | undefined {
    let key = this.#imported.get(id);
    if (key === undefined) {
      const raw = this.#raw.get(id);
      if (raw === undefined) return undefined;
      key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
        "verify",
      ]);
      this.#imported.set(id, key);
    }
    return key;
  }
}

function failed(detail: string): WeftError {
  return new WeftError("authentication failed", `Authentication failed: ${detail}`);
}

function transcript(
  label: Uint8Array,
  clientId: Uint8Array,
  serverId: Uint8Array,
  nc: Uint8Array,
  ns: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(label.length + 2 + clientId.length + serverId.length + 2 * NONCE_SIZE);
  let at = 0;
  for (const part of [label, [clientId.length], clientId, [serverId.length], serverId, nc, ns]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function text(bytes: Uint8Array | undefined): string | undefined {
  if (bytes === undefined || bytes.length === 0 || bytes.length > MAX_KEY_ID_SIZE) return undefined;
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** One connection's side of the exchange. */
export class HandshakeAuth {
  readonly #ring: KeyRing;
  readonly #ownId: Uint8Array;
  readonly #nonce: Uint8Array = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  #peerId: Uint8Array | undefined;
  #peerNonce: Uint8Array | undefined;
  /** The key id the peer proved, once it did. */
  peerKeyId: string | undefined;

  /**
   * One connection's exchange, with a fresh challenge.
   *
   * @param ring This node's keys.
   */
  constructor(ring: KeyRing) {
    this.#ring = ring;
    this.#ownId = utf8Encoder.encode(ring.keyId);
  }

  /** Connecting side: the fields of its HELLO. */
  helloFields(): Map<number, Uint8Array> {
    return new Map([[HelloField.AuthKeyId, this.#ownId], [HelloField.AuthNonce, this.#nonce]]);
  }

  /**
   * Accepting side, on HELLO: the fields of its HELLO_ACK, with its proof.
   *
   * @throws {WeftError} `authentication failed` if the HELLO carries no key id or challenge.
   */
  async onHello(fields: Map<number, Uint8Array>): Promise<Map<number, Uint8Array>> {
    const id = fields.get(HelloField.AuthKeyId);
    const nonce = fields.get(HelloField.AuthNonce);
    if (text(id) === undefined) throw failed("the peer sent no key id (is auth set on it?)");
    if (nonce?.length !== NONCE_SIZE) throw failed("the peer sent no challenge");
    this.#peerId = id;
    this.#peerNonce = nonce;
    const proof = await this.#sign(SERVER_LABEL, this.#ring.keyId, id!, this.#ownId, nonce);
    return new Map([
      [HelloField.AuthKeyId, this.#ownId],
      [HelloField.AuthNonce, this.#nonce],
      [HelloField.AuthProof, proof],
    ]);
  }

  /**
   * Connecting side, on HELLO_ACK: checks the accepting side's proof and
   * returns this side's, for the AUTH frame.
   *
   * @throws {WeftError} `authentication failed` if the proof is missing or wrong.
   */
  async onAck(fields: Map<number, Uint8Array>): Promise<Uint8Array> {
    const idBytes = fields.get(HelloField.AuthKeyId);
    const nonce = fields.get(HelloField.AuthNonce);
    const proof = fields.get(HelloField.AuthProof);
    const id = text(idBytes);
    if (id === undefined || nonce?.length !== NONCE_SIZE || proof === undefined) {
      throw failed("the peer proved no key (is auth set on it?)");
    }
    const key = this.#ring.key(id);
    if (key === undefined) {
      throw failed(`the peer proves key id ${JSON.stringify(id)}, unknown here`);
    }
    const data = transcript(SERVER_LABEL, this.#ownId, idBytes!, this.#nonce, nonce);
    if (!await crypto.subtle.verify("HMAC", await key, proof, data)) {
      throw failed(`the peer's proof for key id ${JSON.stringify(id)} is wrong`);
    }
    this.peerKeyId = id;
    return await this.#sign(CLIENT_LABEL, this.#ring.keyId, this.#ownId, idBytes!, nonce);
  }

  /**
   * Accepting side, on AUTH: checks the connecting side's proof.
   *
   * @throws {WeftError} `authentication failed` if it is wrong or the key id unknown.
   */
  async onAuth(proof: Uint8Array): Promise<void> {
    const idBytes = this.#peerId!;
    const id = text(idBytes)!;
    const key = this.#ring.key(id);
    if (key === undefined) {
      throw failed(`the peer claims key id ${JSON.stringify(id)}, unknown here`);
    }
    const data = transcript(CLIENT_LABEL, idBytes, this.#ownId, this.#peerNonce!, this.#nonce);
    if (!await crypto.subtle.verify("HMAC", await key, proof, data)) {
      throw failed(`the peer's proof for key id ${JSON.stringify(id)} is wrong`);
    }
    this.peerKeyId = id;
  }

  /** HMAC of the transcript under `keyId`'s key, this side's challenge in its place. */
  async #sign(
    label: Uint8Array,
    keyId: string,
    clientId: Uint8Array,
    serverId: Uint8Array,
    peerNonce: Uint8Array,
  ): Promise<Uint8Array> {
    const server = label === SERVER_LABEL;
    const data = transcript(
      label,
      clientId,
      serverId,
      server ? peerNonce : this.#nonce,
      server ? this.#nonce : peerNonce,
    );
    return new Uint8Array(await crypto.subtle.sign("HMAC", await this.#ring.key(keyId)!, data));
  }
}
