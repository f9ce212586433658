/** Why a capture did not produce a bundle; `code` is stable, `message` is for people. */
export type CaptureErrorCode =
  | "insecure_context"
  | "camera_denied"
  | "no_camera"
  | "camera_failed"
  | "page_hidden"
  | "cancelled"
  | "invalid_challenge"
  | "challenge_expired";

export class CaptureError extends Error {
  readonly code: CaptureErrorCode;

  constructor(code: CaptureErrorCode, message: string) {
    super(message);
    this.name = "CaptureError";
    this.code = code;
  }
}

/** A camera failure from `getUserMedia` as the capture's own error. */
export function cameraError(error: unknown): CaptureError {
  const name = error instanceof Error ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return new CaptureError("camera_denied", "Camera access was denied. Allow the camera for this site and try again.");
    case "NotFoundError":
    case "OverconstrainedError":
      return new CaptureError("no_camera", "No camera was found on this device.");
    case "NotReadableError":
    case "AbortError":
      return new CaptureError("camera_failed", "The camera could not be started: another app may be using it.");
    default:
      return new CaptureError("camera_failed", `The camera could not be started (${name || String(error)}).`);
  }
}
