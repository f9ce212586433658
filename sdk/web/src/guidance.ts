/**
 * Live guidance computed in the browser from a small copy of the preview, so that fewer
 * captures fail on the server: too dark, blurred, glare, and the card or face not filling its
 * guide. The measures are cheap (a 320-pixel-wide frame) and the thresholds deliberately loose:
 * a hint only delays the flash sequence, the server still judges every frame itself.
 */

/** RGBA pixels, as `ImageData` holds them. */
export interface Pixels {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** A rectangle in the pixels' own coordinates. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type HintCode = "too_dark" | "blurred" | "glare" | "move_closer" | "align_card";

export interface Hint {
  code: HintCode;
  message: string;
}

/** What the guidance measured on one preview frame (all in 0..255 grey levels or fractions). */
export interface Measures {
  /** Mean grey level inside the guide. */
  brightness: number;
  /** Variance of the Laplacian inside the guide: falls as the image blurs. */
  sharpness: number;
  /** Fraction of the guide's pixels at the sensor's ceiling (≥ 250). */
  glare: number;
  /**
   * KTP only: how many of the guide's four sides show an edge clearly stronger than the
   * picture's average (a card laid in the frame shows all four).
   */
  cardSides?: number;
  /** Selfie only, where the browser detects faces: the face's width over the guide's. */
  faceWidth?: number;
}

/** Below this mean grey level the flash cannot be seen on the subject. */
export const BRIGHTNESS_MIN = 50;
/** Laplacian variance on the 320-pixel preview below which the picture is too soft to read. */
export const SHARPNESS_MIN = 25;
/** Saturated fraction of the guide above which glare hides the card or the face. */
export const GLARE_MAX = { ktp: 0.02, face: 0.06 } as const;
/** A side counts as the card's edge when its gradient is this many times the picture's mean. */
export const EDGE_CONTRAST_MIN = 1.6;
/** The face should span at least this fraction of the oval's width. */
export const FACE_WIDTH_MIN = 0.45;

function grey(data: Uint8ClampedArray, i: number): number {
  return 0.299 * (data[i] ?? 0) + 0.587 * (data[i + 1] ?? 0) + 0.114 * (data[i + 2] ?? 0);
}

/** The grey levels of `pixels`, row by row. */
export function greyLevels(pixels: Pixels): Float32Array {
  const out = new Float32Array(pixels.width * pixels.height);
  for (let p = 0; p < out.length; p++) out[p] = grey(pixels.data, 4 * p);
  return out;
}

function clampBox(box: Box, width: number, height: number): Box {
  const x = Math.max(0, Math.min(width - 1, Math.round(box.x)));
  const y = Math.max(0, Math.min(height - 1, Math.round(box.y)));
  return {
    x,
    y,
    width: Math.max(1, Math.min(width - x, Math.round(box.width))),
    height: Math.max(1, Math.min(height - y, Math.round(box.height))),
  };
}

/** Brightness, sharpness and glare inside `guide`. */
export function measure(pixels: Pixels, guide: Box): Measures {
  const { width, height } = pixels;
  const g = greyLevels(pixels);
  const box = clampBox(guide, width, height);
  let sum = 0;
  let saturated = 0;
  let lapSum = 0;
  let lapSq = 0;
  let lapCount = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const v = g[y * width + x] ?? 0;
      sum += v;
      if (v >= 250) saturated++;
      if (x > 0 && y > 0 && x < width - 1 && y < height - 1) {
        const lap =
          (g[(y - 1) * width + x] ?? 0) +
          (g[(y + 1) * width + x] ?? 0) +
          (g[y * width + x - 1] ?? 0) +
          (g[y * width + x + 1] ?? 0) -
          4 * v;
        lapSum += lap;
        lapSq += lap * lap;
        lapCount++;
      }
    }
  }
  const n = box.width * box.height;
  const lapMean = lapCount ? lapSum / lapCount : 0;
  return {
    brightness: sum / n,
    sharpness: lapCount ? lapSq / lapCount - lapMean * lapMean : 0,
    glare: saturated / n,
  };
}

/**
 * How many sides of `guide` carry an edge: the mean gradient across each side (a band of ±2
 * pixels), against the mean gradient of the whole picture.
 */
export function cardSides(pixels: Pixels, guide: Box): number {
  const { width, height } = pixels;
  const g = greyLevels(pixels);
  const at = (x: number, y: number) => g[Math.max(0, Math.min(height - 1, y)) * width + Math.max(0, Math.min(width - 1, x))] ?? 0;
  let total = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      total += Math.abs(at(x + 1, y) - at(x - 1, y)) + Math.abs(at(x, y + 1) - at(x, y - 1));
    }
  }
  const mean = total / Math.max(1, (width - 2) * (height - 2));
  const box = clampBox(guide, width, height);
  // The strongest step across the side within ±2 px, averaged along it.
  const side = (horizontal: boolean, fixed: number, from: number, to: number) => {
    let acc = 0;
    for (let t = from; t < to; t++) {
      let best = 0;
      for (let d = -2; d <= 2; d++) {
        const step = horizontal
          ? Math.abs(at(t, fixed + d + 1) - at(t, fixed + d - 1))
          : Math.abs(at(fixed + d + 1, t) - at(fixed + d - 1, t));
        best = Math.max(best, step);
      }
      acc += best;
    }
    return acc / Math.max(1, to - from);
  };
  const inset = (n: number) => Math.round(n * 0.1);
  const sides = [
    side(true, box.y, box.x + inset(box.width), box.x + box.width - inset(box.width)),
    side(true, box.y + box.height - 1, box.x + inset(box.width), box.x + box.width - inset(box.width)),
    side(false, box.x, box.y + inset(box.height), box.y + box.height - inset(box.height)),
    side(false, box.x + box.width - 1, box.y + inset(box.height), box.y + box.height - inset(box.height)),
  ];
  return sides.filter((s) => s > EDGE_CONTRAST_MIN * Math.max(mean, 2)).length;
}

/** The hints `measures` call for, most important first; none means ready. */
export function hintsFor(kind: "face" | "ktp", measures: Measures): Hint[] {
  const hints: Hint[] = [];
  if (measures.brightness < BRIGHTNESS_MIN) {
    hints.push({ code: "too_dark", message: "It is too dark: move to a brighter place." });
  }
  if (measures.glare > GLARE_MAX[kind]) {
    hints.push({
      code: "glare",
      message: kind === "ktp" ? "Glare is hiding the card: tilt it away from the light." : "Too much glare: turn away from the light.",
    });
  }
  if (measures.sharpness < SHARPNESS_MIN) {
    hints.push({ code: "blurred", message: "The picture is blurred: hold still." });
  }
  if (kind === "ktp" && measures.cardSides !== undefined && measures.cardSides < 3) {
    hints.push({ code: "align_card", message: "Fit the card to the frame: move closer and hold it flat." });
  }
  if (kind === "face" && measures.faceWidth !== undefined && measures.faceWidth < FACE_WIDTH_MIN) {
    hints.push({ code: "move_closer", message: "Move closer: your face should fill the oval." });
  }
  return hints;
}
