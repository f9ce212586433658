/** Kenali's web capture SDK. */
export { canonicalize, CanonicalizationError, type JsonValue } from "./canonical.js";
export { deriveDeviceKey, signatureOf, signBundle, signingPayload, type Bundle } from "./sign.js";
