/** Kenali's web capture SDK. */
export { canonicalize, CanonicalizationError, type JsonValue } from "./canonical.js";
export { deriveDeviceKey, signatureOf, signBundle, signingPayload, type Bundle } from "./sign.js";
export {
  captureKtp,
  captureSelfie,
  type CaptureOptions,
  type CaptureResult,
  type CaptureStats,
  type FlashChallenge,
  type Progress,
} from "./capture.js";
export { CaptureError, type CaptureErrorCode } from "./errors.js";
export { hintsFor, measure, cardSides, type Hint, type HintCode, type Measures } from "./guidance.js";
export { LABELS, type Labels } from "./labels.js";
export { SDK_VERSION } from "./version.js";
