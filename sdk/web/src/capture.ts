/**
 * `captureSelfie` and `captureKtp`: the camera, the guidance, the flash sequence of a Kenali
 * challenge, and the signed bundle (SPEC §5) the page hands to its own backend.
 */

import { CaptureError, cameraError } from "./errors.js";
import { cardSides, hintsFor, measure, type Box, type Hint, type Measures } from "./guidance.js";
import { LABELS, type Labels } from "./labels.js";
import { signBundle, type Bundle } from "./sign.js";
import { CaptureUi, guideFraction, type CaptureKind } from "./ui.js";
import { SDK_VERSION } from "./version.js";

/** A flash challenge as Kenali issues it (`flashChallenge` of the challenge routes). */
export interface FlashChallenge {
  id?: string;
  purpose?: string;
  nonce: string;
  colors: string[];
  holdMs: number[];
  expiresAt?: string;
  hmacSecret: string;
}

export type Progress =
  | { stage: "warning" }
  | { stage: "camera" }
  | { stage: "guidance"; hints: Hint[]; measures: Measures }
  | { stage: "flash"; step: number; of: number; color: string }
  | { stage: "signing" }
  | { stage: "done"; result: CaptureStats };

export interface CaptureOptions {
  /** The challenge your backend got from Kenali, or the whole `{flashChallenge}` answer. */
  challenge: FlashChallenge | { flashChallenge: FlashChallenge };
  /** Where the SDK draws its warning, preview, guide and hints. */
  container: HTMLElement;
  onProgress?: (progress: Progress) => void;
  /** Aborts the capture (`CaptureError` `cancelled`), as the Cancel button does. */
  signal?: AbortSignal;
  /** Show the photosensitivity warning and wait for Start (default true). */
  photosensitivityWarning?: boolean;
  /**
   * How long the guidance waits for a good picture before the flash starts anyway (default
   * 8000 ms; 0 starts at once). The server judges every frame whatever the hints said.
   */
  guidanceTimeoutMs?: number;
  /** `en` (default) or `id`, and any words to replace. */
  locale?: "en" | "id";
  labels?: Partial<Labels>;
}

export interface CaptureStats {
  frames: number;
  width: number;
  height: number;
  /** Base64 characters of each frame as the bundle carries it. */
  frameBytes: number[];
  /** The signed bundle's JSON length. */
  bundleBytes: number;
  /** From the first colour on the screen to the signed bundle. */
  flashToSignedMs: number;
  /** From the last colour's end to the signed bundle: encoding, canonical JSON and HMAC. */
  afterFlashMs: number;
  /** From the call to the signed bundle (includes the person reading the warning). */
  totalMs: number;
}

export interface CaptureResult {
  /** The signed bundle: POST it to your backend, which forwards it to Kenali. */
  bundle: Bundle;
  stats: CaptureStats;
}

/** Frames as the server wants them (SPEC §5 and the capture checks): 1280×720. */
const IDEAL_WIDTH = 1280;
const IDEAL_HEIGHT = 720;
/** Each frame is grabbed this far into its colour's hold, once the camera has seen the colour. */
const GRAB_AT = 0.6;
const JPEG_QUALITY = 0.92;
const GUIDANCE_WIDTH = 320;
const GUIDANCE_EVERY_MS = 150;
/** Consecutive good guidance checks before the flash starts. */
const GUIDANCE_GOOD_RUNS = 3;

const COLOR = /^#[0-9A-Fa-f]{6}$/;

function challengeOf(input: CaptureOptions["challenge"]): FlashChallenge {
  const c = "flashChallenge" in input ? input.flashChallenge : input;
  const valid =
    c &&
    typeof c.nonce === "string" &&
    typeof c.hmacSecret === "string" &&
    Array.isArray(c.colors) &&
    Array.isArray(c.holdMs) &&
    c.colors.length > 0 &&
    c.colors.length === c.holdMs.length &&
    c.colors.every((color) => typeof color === "string" && COLOR.test(color)) &&
    c.holdMs.every((ms) => Number.isInteger(ms) && ms > 0 && ms <= 5000);
  if (!valid) {
    throw new CaptureError("invalid_challenge", "The challenge is not a Kenali flash challenge (nonce, colors, holdMs, hmacSecret).");
  }
  if (c.expiresAt && Date.parse(c.expiresAt) < Date.now()) {
    throw new CaptureError("challenge_expired", "The challenge has expired: ask your backend for a new one.");
  }
  return c;
}

/** Rejects when the capture is cancelled, aborted or the page is hidden; cleans up after itself. */
class Abort {
  private reject!: (error: CaptureError) => void;
  readonly promise: Promise<never>;
  private readonly cleanups: (() => void)[] = [];
  error?: CaptureError;

  constructor(signal: AbortSignal | undefined) {
    this.promise = new Promise<never>((_, reject) => {
      this.reject = reject;
    });
    this.promise.catch(() => undefined);
    const onVisibility = () => {
      if (document.visibilityState !== "visible") {
        this.fire(new CaptureError("page_hidden", "The page was hidden during the capture; start again with the page in view."));
      }
    };
    document.addEventListener("visibilitychange", onVisibility);
    this.cleanups.push(() => document.removeEventListener("visibilitychange", onVisibility));
    if (signal) {
      const onAbort = () => this.cancel();
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort);
      this.cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }
  }

  cancel = (): void => this.fire(new CaptureError("cancelled", "The capture was cancelled."));

  fire(error: CaptureError): void {
    if (!this.error) {
      this.error = error;
      this.reject(error);
    }
  }

  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.promise]);
  }

  sleep(ms: number): Promise<void> {
    return this.race(new Promise<void>((resolve) => setTimeout(resolve, ms)));
  }

  close(): void {
    for (const cleanup of this.cleanups) cleanup();
  }
}

async function openCamera(kind: CaptureKind): Promise<MediaStream> {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: {
        facingMode: { ideal: kind === "face" ? "user" : "environment" },
        width: { ideal: IDEAL_WIDTH },
        height: { ideal: IDEAL_HEIGHT },
      },
    });
  } catch (error) {
    throw cameraError(error);
  }
}

function videoReady(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0) resolve();
    };
    video.addEventListener("loadeddata", check);
    video.addEventListener("playing", check);
    video.addEventListener("error", () => reject(new CaptureError("camera_failed", "The camera stream could not be played.")));
    video.play().catch(() => undefined);
    check();
  });
}

/** Resolves at the next frame the video presents (or after 100 ms where the browser can't say). */
function nextVideoFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    if ("requestVideoFrameCallback" in video) {
      video.requestVideoFrameCallback(() => {
        clearTimeout(timer);
        resolve();
      });
    }
  });
}

function scaled(box: Box, width: number, height: number): Box {
  return { x: box.x * width, y: box.y * height, width: box.width * width, height: box.height * height };
}

type FaceDetectorLike = { detect(source: CanvasImageSource): Promise<{ boundingBox: DOMRectReadOnly }[]> };

/** Waits for a picture the hints call good (or the timeout), telling the person what to fix. */
async function guide(
  kind: CaptureKind,
  video: HTMLVideoElement,
  ui: CaptureUi,
  labels: Labels,
  abort: Abort,
  timeoutMs: number,
  onProgress: (p: Progress) => void,
): Promise<void> {
  if (timeoutMs <= 0) return;
  const width = GUIDANCE_WIDTH;
  const height = Math.max(1, Math.round((width * video.videoHeight) / video.videoWidth));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) return;
  const box = scaled(guideFraction(kind, video.videoWidth / video.videoHeight), width, height);
  const Detector = (globalThis as { FaceDetector?: new () => FaceDetectorLike }).FaceDetector;
  const detector = kind === "face" && Detector ? new Detector() : undefined;
  const deadline = performance.now() + timeoutMs;
  let goodRuns = 0;
  while (performance.now() < deadline && goodRuns < GUIDANCE_GOOD_RUNS) {
    context.drawImage(video, 0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height);
    const measures = measure(pixels, box);
    if (kind === "ktp") measures.cardSides = cardSides(pixels, box);
    if (detector) {
      const faces = await detector.detect(canvas).catch(() => []);
      const widest = Math.max(0, ...faces.map((f) => f.boundingBox.width));
      measures.faceWidth = widest / box.width;
    }
    const hints = hintsFor(kind, measures);
    onProgress({ stage: "guidance", hints, measures });
    ui.setHint(hints[0]?.message ?? labels.ready, hints.length === 0);
    goodRuns = hints.length === 0 ? goodRuns + 1 : 0;
    await abort.sleep(GUIDANCE_EVERY_MS);
  }
}

function base64Of(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function jpegOf(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new CaptureError("camera_failed", "A frame could not be encoded."))), "image/jpeg", JPEG_QUALITY),
  );
}

async function capture(kind: CaptureKind, options: CaptureOptions): Promise<CaptureResult> {
  const called = performance.now();
  if (!globalThis.isSecureContext || !navigator.mediaDevices?.getUserMedia || !globalThis.crypto?.subtle) {
    throw new CaptureError("insecure_context", "The camera and signing need a secure page: serve it over https (or localhost).");
  }
  const challenge = challengeOf(options.challenge);
  if (document.visibilityState !== "visible") {
    throw new CaptureError("page_hidden", "The capture starts only while the page is in view.");
  }
  const labels = { ...LABELS[options.locale ?? "en"], ...options.labels };
  const onProgress = options.onProgress ?? (() => undefined);
  const abort = new Abort(options.signal);
  const ui = new CaptureUi(options.container, kind, labels);
  let stream: MediaStream | undefined;
  let wakeLock: { release(): Promise<void> } | undefined;
  try {
    if (options.photosensitivityWarning ?? true) {
      onProgress({ stage: "warning" });
      const seconds = Math.max(1, Math.ceil(challenge.holdMs.reduce((a, b) => a + b, 0) / 1000));
      await abort.race(ui.warn(challenge.colors.length, seconds, abort.cancel));
    }
    onProgress({ stage: "camera" });
    stream = await abort.race(openCamera(kind));
    const video = ui.showPreview(stream, abort.cancel);
    await abort.race(videoReady(video));
    ui.fitPreview(video.videoWidth, video.videoHeight);
    await guide(kind, video, ui, labels, abort, options.guidanceTimeoutMs ?? 8000, onProgress);

    // The screen must not dim while it is the light source.
    wakeLock = await (navigator as { wakeLock?: { request(type: "screen"): Promise<{ release(): Promise<void> }> } }).wakeLock
      ?.request("screen")
      .catch(() => undefined);
    const width = video.videoWidth;
    const height = video.videoHeight;
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    if (!context) throw new CaptureError("camera_failed", "The browser gave no canvas to grab frames with.");
    ui.startFlash(abort.cancel);
    const encoded: Promise<Blob>[] = [];
    const flashSamples: { step: number; frameIndex: number; color: string; tMs: number }[] = [];
    const flashStart = performance.now();
    let stepStart = flashStart;
    for (const [step, color] of challenge.colors.entries()) {
      const hold = challenge.holdMs[step] ?? 0;
      ui.showColor(color, step);
      onProgress({ stage: "flash", step, of: challenge.colors.length, color });
      await abort.sleep(Math.max(0, stepStart + GRAB_AT * hold - performance.now()));
      await abort.race(nextVideoFrame(video));
      context.drawImage(video, 0, 0, width, height);
      flashSamples.push({ step, frameIndex: encoded.length, color, tMs: Math.round(performance.now() - flashStart) });
      // toBlob copies the canvas now, so the next step may draw over it.
      encoded.push(jpegOf(canvas));
      stepStart += hold;
      await abort.sleep(Math.max(0, stepStart - performance.now()));
    }
    const flashEnd = performance.now();
    ui.remove();
    onProgress({ stage: "signing" });
    const frames = await abort.race(Promise.all(encoded.map(async (blob) => base64Of(await blob))));
    const bundle = await signBundle(
      {
        version: "1",
        sdkVersion: `web-${SDK_VERSION}`,
        platform: "web",
        frames,
        capturedAt: new Date().toISOString(),
        flashChallengeNonce: challenge.nonce,
        flashSamples,
      },
      challenge.hmacSecret,
    );
    const signedAt = performance.now();
    const stats: CaptureStats = {
      frames: frames.length,
      width,
      height,
      frameBytes: frames.map((f) => f.length),
      bundleBytes: JSON.stringify(bundle).length,
      flashToSignedMs: Math.round(signedAt - flashStart),
      afterFlashMs: Math.round(signedAt - flashEnd),
      totalMs: Math.round(signedAt - called),
    };
    onProgress({ stage: "done", result: stats });
    return { bundle, stats };
  } finally {
    abort.close();
    for (const track of stream?.getTracks() ?? []) track.stop();
    await wakeLock?.release().catch(() => undefined);
    ui.remove();
  }
}

/** A selfie under the challenge's flash, with the front camera; resolves to the signed bundle. */
export function captureSelfie(options: CaptureOptions): Promise<CaptureResult> {
  return capture("face", options);
}

/** A KTP under the challenge's flash, with the back camera where there is one. */
export function captureKtp(options: CaptureOptions): Promise<CaptureResult> {
  return capture("ktp", options);
}
