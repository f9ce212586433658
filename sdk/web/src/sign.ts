/**
 * Signing a capture bundle as Kenali checks it (SPEC §5): lowercase hex HMAC-SHA256 over the
 * RFC 8785 canonical JSON of the bundle without its `signature` member, through WebCrypto.
 */

import { canonicalize } from "./canonical.js";

const encoder = new TextEncoder();

/** A capture bundle: what the SDK assembles and signs (frames, flash samples, nonce...). */
export type Bundle = { [name: string]: unknown; signature?: string };

/** The bytes a bundle's signature covers: the canonical JSON of the bundle without `signature`. */
export function signingPayload(bundle: Bundle): string {
  const { signature: _ignored, ...unsigned } = bundle;
  return canonicalize(unsigned);
}

function subtle(): SubtleCrypto {
  const crypto = globalThis.crypto;
  if (!crypto?.subtle) {
    throw new Error("WebCrypto is not available: the page must be served over https (a secure context)");
  }
  return crypto.subtle;
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function keyBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === "string" ? encoder.encode(key) : key;
}

/**
 * The bundle's signature with `key`: the challenge's `hmacSecret` string (web), or a key from
 * `deriveDeviceKey` (native).
 */
export async function signatureOf(bundle: Bundle, key: string | Uint8Array): Promise<string> {
  const hmac = await subtle().importKey("raw", keyBytes(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await subtle().sign("HMAC", hmac, encoder.encode(signingPayload(bundle))));
}

/** A copy of `bundle` carrying its signature, ready to hand to the integrator's backend. */
export async function signBundle(bundle: Bundle, key: string | Uint8Array): Promise<Bundle> {
  const { signature: _old, ...unsigned } = bundle;
  return { ...unsigned, signature: await signatureOf(unsigned, key) };
}

/**
 * A registered device's key for one bundle: HKDF-SHA256 with the device secret as input key
 * material, the challenge nonce as salt, no info, 32 bytes (docs/native-sdk.md).
 */
export async function deriveDeviceKey(deviceSecret: string, nonce: string): Promise<Uint8Array> {
  const material = await subtle().importKey("raw", encoder.encode(deviceSecret), "HKDF", false, ["deriveBits"]);
  const bits = await subtle().deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: encoder.encode(nonce), info: new Uint8Array() },
    material,
    256,
  );
  return new Uint8Array(bits);
}
