import assert from "node:assert/strict";
import { test } from "node:test";

import { BRIGHTNESS_MIN, cardSides, hintsFor, measure, type Pixels } from "../src/guidance.js";

const W = 320;
const H = 180;
const guide = { x: 32, y: 17, width: 256, height: 146 };

/** A picture drawn by `shade(x, y)` in grey levels. */
function picture(shade: (x: number, y: number) => number): Pixels {
  const data = new Uint8ClampedArray(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const v = shade(x, y);
      data.set([v, v, v, 255], 4 * (y * W + x));
    }
  }
  return { data, width: W, height: H };
}

/** Fine texture (a checkerboard of 2-px cells) at `level` ± 40. */
const textured = (level: number) => (x: number, y: number) => level + ((x >> 1) + (y >> 1)) % 2 * 80 - 40;

/** The same picture averaged over a `radius` box: a blur. */
function blurred(p: Pixels, radius: number): Pixels {
  const data = new Uint8ClampedArray(p.data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const xx = Math.min(W - 1, Math.max(0, x + dx));
          const yy = Math.min(H - 1, Math.max(0, y + dy));
          sum += p.data[4 * (yy * W + xx)] ?? 0;
          n++;
        }
      }
      const v = sum / n;
      data.set([v, v, v, 255], 4 * (y * W + x));
    }
  }
  return { data, width: W, height: H };
}

test("a sharp, well-lit picture calls for no hint", () => {
  const m = measure(picture(textured(128)), guide);
  assert.ok(Math.abs(m.brightness - 128) < 1, `${m.brightness}`);
  assert.deepEqual(hintsFor("face", m), []);
});

test("a dark picture asks for light", () => {
  const m = measure(picture(textured(BRIGHTNESS_MIN - 10)), guide);
  assert.deepEqual(hintsFor("face", m).map((h) => h.code), ["too_dark"]);
});

test("blurring the same picture asks to hold still", () => {
  const sharp = measure(picture(textured(128)), guide);
  const soft = measure(blurred(picture(textured(128)), 4), guide);
  assert.ok(soft.sharpness < sharp.sharpness / 10, `${soft.sharpness} vs ${sharp.sharpness}`);
  assert.deepEqual(hintsFor("face", soft).map((h) => h.code), ["blurred"]);
});

test("a saturated patch over the card is glare", () => {
  const m = measure(picture((x, y) => (x > 100 && x < 140 && y > 60 && y < 100 ? 255 : textured(120)(x, y))), guide);
  assert.ok(m.glare > 0.02, `${m.glare}`);
  assert.ok(hintsFor("ktp", m).some((h) => h.code === "glare"));
});

test("a card laid in its frame shows four sides; a card too far away shows none", () => {
  const inFrame = picture((x, y) =>
    x >= guide.x && x < guide.x + guide.width && y >= guide.y && y < guide.y + guide.height ? 200 : 60,
  );
  assert.equal(cardSides(inFrame, guide), 4);
  const small = picture((x, y) => (x >= 130 && x < 190 && y >= 70 && y < 108 ? 200 : 60));
  assert.equal(cardSides(small, guide), 0);
  const m = { ...measure(picture(textured(128)), guide), cardSides: 0 };
  assert.deepEqual(hintsFor("ktp", m).map((h) => h.code), ["align_card"]);
});

test("a face narrower than the oval asks to come closer", () => {
  const m = { ...measure(picture(textured(128)), guide), faceWidth: 0.3 };
  assert.deepEqual(hintsFor("face", m).map((h) => h.code), ["move_closer"]);
  assert.deepEqual(hintsFor("face", { ...m, faceWidth: 0.7 }), []);
});
