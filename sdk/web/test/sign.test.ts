import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { deriveDeviceKey, signatureOf, signBundle, signingPayload } from "../src/sign.js";

const vectors = JSON.parse(readFileSync(new URL("../../test/fixtures/signing-vectors.json", import.meta.url), "utf8"));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

test("a web bundle signs with the challenge's hmacSecret as Kenali checks it", async () => {
  const { hmacSecret, bundle, payload, signature } = vectors.web;
  assert.equal(signingPayload(bundle), payload);
  assert.equal(await signatureOf(bundle, hmacSecret), signature);
  const signed = await signBundle({ ...bundle, signature: "stale" }, hmacSecret);
  assert.equal(signed.signature, signature, "an old signature is not signed over");
});

test("a native bundle signs with the key derived from the device secret and the nonce", async () => {
  const { deviceSecret, nonce, derivedKey, bundle, payload, signature } = vectors.native;
  const key = await deriveDeviceKey(deviceSecret, nonce);
  assert.equal(hex(key), derivedKey);
  assert.equal(signingPayload(bundle), payload);
  assert.equal(await signatureOf(bundle, key), signature);
});

test("any change to the bundle changes the signature", async () => {
  const { hmacSecret, bundle, signature } = vectors.web;
  const moved = structuredClone(bundle);
  moved.flashSamples[1].tMs += 1;
  assert.notEqual(await signatureOf(moved, hmacSecret), signature);
  assert.notEqual(await signatureOf(bundle, hmacSecret + "x"), signature);
});
