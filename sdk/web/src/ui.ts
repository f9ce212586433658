/**
 * The capture's own elements inside the integrator's container: the photosensitivity warning,
 * the preview with its guide, the live hints, and the full-screen flash. Every element carries
 * a `data-kenali-*` attribute so pages and tests can find it without depending on class names.
 */

import type { Box } from "./guidance.js";
import type { Labels } from "./labels.js";

export type CaptureKind = "face" | "ktp";

const STYLE_ID = "kenali-sdk-style";
const CSS = `
.kenali-root{font:16px/1.4 system-ui,sans-serif;color:#111}
.kenali-warning{border:2px solid #b45309;background:#fffbeb;padding:16px;border-radius:8px;max-width:560px}
.kenali-warning h2{margin:0 0 8px;font-size:18px}
.kenali-buttons{display:flex;gap:8px;margin-top:12px}
.kenali-buttons button,.kenali-cancel{font:inherit;padding:8px 16px;border-radius:6px;border:1px solid #444;background:#fff;color:#111;cursor:pointer}
.kenali-buttons button[data-kenali-action=start]{background:#0f766e;color:#fff;border-color:#0f766e}
.kenali-preview{position:relative;width:100%;max-width:640px;aspect-ratio:16/9;background:#000;overflow:hidden;border-radius:8px}
.kenali-preview video{width:100%;height:100%;object-fit:contain;display:block}
.kenali-preview svg{position:absolute;inset:0;width:100%;height:100%;pointer-events:none}
.kenali-hint{min-height:1.5em;margin:8px 0;font-weight:600}
.kenali-flash{position:fixed;inset:0;z-index:2147483647;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:16px}
.kenali-flash .kenali-preview{width:40vmin;max-width:none;border-radius:50%;aspect-ratio:1}
.kenali-flash .kenali-preview video{object-fit:cover}
.kenali-flash[data-kind=face] svg{display:none}
.kenali-flash[data-kind=ktp] .kenali-preview{width:70vmin;border-radius:8px;aspect-ratio:16/9}
`;

let adopted = false;

/**
 * The SDK's style sheet. A constructed sheet where the browser has them, so a page whose
 * Content-Security-Policy forbids inline styles (`style-src 'self'`) still gets it; a <style>
 * element elsewhere.
 */
function adoptStyle(): void {
  if (adopted || document.getElementById(STYLE_ID)) return;
  adopted = true;
  if ("adoptedStyleSheets" in document && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    return;
  }
  const style = element("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  document.head.append(style);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The guide's box as fractions of the frame: an oval for a face, an ID-1 card (85.60 × 53.98 mm). */
export function guideFraction(kind: CaptureKind, frameAspect: number): Box {
  if (kind === "face") return { x: 0.3, y: 0.1, width: 0.4, height: 0.8 };
  const cardAspect = 85.6 / 53.98;
  const width = 0.8;
  const height = Math.min(0.9, (width * frameAspect) / cardAspect);
  return { x: (1 - width) / 2, y: (1 - height) / 2, width, height };
}

export class CaptureUi {
  readonly root: HTMLElement;
  private readonly hint: HTMLElement;
  private flashLayer?: HTMLElement;
  private preview?: HTMLElement;

  constructor(
    container: HTMLElement,
    private readonly kind: CaptureKind,
    private readonly labels: Labels,
  ) {
    adoptStyle();
    this.root = element("div", "kenali-root");
    this.root.dataset.kenaliCapture = kind;
    this.hint = element("p", "kenali-hint");
    this.hint.dataset.kenaliHint = "";
    this.hint.setAttribute("role", "status");
    this.hint.setAttribute("aria-live", "polite");
    container.append(this.root);
  }

  /**
   * The photosensitivity warning; resolves when the person chooses Start, calls `onCancel` when
   * they choose Cancel.
   */
  warn(steps: number, seconds: number, onCancel: () => void): Promise<void> {
    const box = element("div", "kenali-warning");
    box.dataset.kenaliWarning = "";
    box.setAttribute("role", "alertdialog");
    const title = element("h2", undefined, this.labels.warningTitle);
    title.id = "kenali-warning-title";
    box.setAttribute("aria-labelledby", title.id);
    const text = this.labels.warningText.replace("{steps}", String(steps)).replace("{seconds}", String(seconds));
    const buttons = element("div", "kenali-buttons");
    const start = element("button", undefined, this.labels.start);
    start.type = "button";
    start.dataset.kenaliAction = "start";
    const cancel = element("button", undefined, this.labels.cancel);
    cancel.type = "button";
    cancel.dataset.kenaliAction = "cancel";
    buttons.append(start, cancel);
    box.append(title, element("p", undefined, text), buttons);
    this.root.replaceChildren(box);
    start.focus();
    cancel.addEventListener("click", onCancel);
    return new Promise((resolve) => start.addEventListener("click", () => resolve(), { once: true }));
  }

  /** The camera preview with its guide; the video plays `stream`. */
  showPreview(stream: MediaStream, onCancel: () => void): HTMLVideoElement {
    const preview = element("div", "kenali-preview");
    const video = element("video");
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.dataset.kenaliVideo = "";
    video.srcObject = stream;
    if (this.kind === "face") video.style.transform = "scaleX(-1)";
    preview.append(video, this.guide());
    const cancel = element("button", "kenali-cancel", this.labels.cancel);
    cancel.type = "button";
    cancel.dataset.kenaliAction = "cancel";
    cancel.addEventListener("click", onCancel);
    this.hint.textContent = this.kind === "face" ? this.labels.faceGuide : this.labels.cardGuide;
    this.root.replaceChildren(preview, this.hint, cancel);
    this.preview = preview;
    return video;
  }

  /** Sizes the preview box to the camera's own aspect ratio so the guide sits where it measures. */
  fitPreview(width: number, height: number): void {
    if (this.preview && width > 0 && height > 0) this.preview.style.aspectRatio = `${width}/${height}`;
  }

  private guide(): SVGSVGElement {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 100 100");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.dataset.kenaliGuide = this.kind;
    const box = guideFraction(this.kind, 16 / 9);
    const shape =
      this.kind === "face" ? document.createElementNS(ns, "ellipse") : document.createElementNS(ns, "rect");
    if (this.kind === "face") {
      shape.setAttribute("cx", String(100 * (box.x + box.width / 2)));
      shape.setAttribute("cy", String(100 * (box.y + box.height / 2)));
      shape.setAttribute("rx", String((100 * box.width) / 2));
      shape.setAttribute("ry", String((100 * box.height) / 2));
    } else {
      shape.setAttribute("x", String(100 * box.x));
      shape.setAttribute("y", String(100 * box.y));
      shape.setAttribute("width", String(100 * box.width));
      shape.setAttribute("height", String(100 * box.height));
      shape.setAttribute("rx", "3");
    }
    shape.setAttribute("fill", "none");
    shape.setAttribute("stroke", "#fff");
    shape.setAttribute("stroke-width", "0.8");
    shape.setAttribute("vector-effect", "non-scaling-stroke");
    shape.setAttribute("stroke-dasharray", "6 4");
    svg.append(shape);
    return svg;
  }

  setHint(text: string, good: boolean): void {
    this.hint.textContent = text;
    this.hint.dataset.kenaliHint = good ? "ready" : "fix";
  }

  /** Covers the screen with the first colour; the preview moves into the middle of it. */
  startFlash(onCancel: () => void): void {
    const layer = element("div", "kenali-flash");
    layer.dataset.kenaliFlash = "";
    layer.dataset.kind = this.kind;
    layer.setAttribute("role", "status");
    layer.setAttribute("aria-label", this.labels.holdStill);
    if (this.preview) {
      // A round window on the face: the camera's own aspect ratio no longer applies.
      if (this.kind === "face") this.preview.style.aspectRatio = "";
      layer.append(this.preview);
    }
    const cancel = element("button", "kenali-cancel", this.labels.cancel);
    cancel.type = "button";
    cancel.dataset.kenaliAction = "cancel";
    cancel.addEventListener("click", onCancel);
    layer.append(element("p", "kenali-hint", this.labels.holdStill), cancel);
    document.body.append(layer);
    this.flashLayer = layer;
  }

  /** Shows `color` on the whole screen; the `data-color` attribute says which one is on. */
  showColor(color: string, step: number): void {
    if (!this.flashLayer) return;
    this.flashLayer.style.background = color;
    this.flashLayer.dataset.color = color;
    this.flashLayer.dataset.step = String(step);
  }

  remove(): void {
    this.flashLayer?.remove();
    this.root.remove();
  }
}
