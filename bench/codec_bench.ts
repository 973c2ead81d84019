// Codec benches: encode and decode of one small object with the ready json
// and msgpack codecs (through their marshal/unmarshal hooks, as the cluster
// calls them), and @msgpack/msgpack's per-call helpers against one reused
// Encoder/Decoder for comparison. Run: deno bench -A bench/codec_bench.ts

import { decode, Decoder, encode, Encoder } from "@msgpack/msgpack";
import { json } from "../src/codec/json.ts";
import { msgpack } from "../src/codec/msgpack.ts";

const body = { id: 123, name: "hello", tags: ["a", "b"], ok: true };
const jsonCodec = json();
const msgpackCodec = msgpack();
const encoder = new Encoder();
const decoder = new Decoder();
const utf8 = new TextEncoder();

const jsonBytes = utf8.encode(JSON.stringify(body));
const msgpackBytes = encode(body);
const withBin = { ...body, bin: new Uint8Array(8) };
const msgpackBinBytes = encode(withBin);
const size = `${jsonBytes.length} B json, ${msgpackBytes.length} B msgpack`;

let sink: unknown;

Deno.bench(
  `json marshal (string out)`,
  { group: `encode small object (${size})`, baseline: true },
  () => {
    sink = jsonCodec.marshal("request", 1, body);
  },
);
Deno.bench(`json marshal + UTF-8 encode`, { group: `encode small object (${size})` }, () => {
  sink = utf8.encode(jsonCodec.marshal("request", 1, body)![1] as string);
});
Deno.bench(`msgpack marshal (reused encoder)`, { group: `encode small object (${size})` }, () => {
  sink = msgpackCodec.marshal("request", 1, body);
});
Deno.bench(
  `@msgpack/msgpack Encoder.encode (reused)`,
  { group: `encode small object (${size})` },
  () => {
    sink = encoder.encode(body);
  },
);
Deno.bench(`@msgpack/msgpack Encoder.encodeSharedRef (reused, no copy)`, {
  group: `encode small object (${size})`,
}, () => {
  sink = encoder.encodeSharedRef(body);
});
Deno.bench(`@msgpack/msgpack encode() (new encoder per call)`, {
  group: `encode small object (${size})`,
}, () => {
  sink = encode(body);
});

Deno.bench(`json unmarshal`, { group: `decode small object (${size})`, baseline: true }, () => {
  sink = jsonCodec.unmarshal("request", 1, jsonBytes);
});
Deno.bench(`msgpack unmarshal (reused decoder)`, {
  group: `decode small object (${size})`,
}, () => {
  sink = msgpackCodec.unmarshal("request", 1, msgpackBytes);
});
Deno.bench(`msgpack unmarshal, with an 8-byte bin (input copied)`, {
  group: `decode small object (${size})`,
}, () => {
  sink = msgpackCodec.unmarshal("request", 1, msgpackBinBytes);
});
Deno.bench(
  `@msgpack/msgpack Decoder.decode (reused)`,
  { group: `decode small object (${size})` },
  () => {
    sink = decoder.decode(msgpackBytes);
  },
);
Deno.bench(`@msgpack/msgpack decode() (new decoder per call)`, {
  group: `decode small object (${size})`,
}, () => {
  sink = decode(msgpackBytes);
});

globalThis.addEventListener("unload", () => {
  if (sink === Symbol.for("never")) console.log(sink);
});
