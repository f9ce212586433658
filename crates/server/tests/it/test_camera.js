// A test camera for the web SDK's browser tests, run in the page by WebDriver before a capture:
// `navigator.mediaDevices.getUserMedia` answers with a canvas stream that films a scene the
// way a camera would. The scene is lit by whatever colour the SDK's flash layer shows at that
// moment (`[data-kenali-flash]`'s `data-color`) unless `ignoresFlash` (a photo held up, or a
// replayed recording, whose light does not answer the screen).
//
// arguments[0] = {
//   face: data URL of a photo, drawn upright, moving a few pixels (a hand-held phone), lit by
//         adding `strength` × colour × its own brightness (skin reflecting a screen's glow),
//   frames: {colour: [data URL, ...]} pre-lit scenes (KTP cards from the test kit, lit and
//         posed per colour by kenali_testkit::ktp_scene): a colour's n-th appearance shows its
//         n-th pose, drifting by a fraction of a pixel; "ambient" when no colour is on,
//   ignoresFlash, strength, rotate (degrees, for the face), dim (0..1: a dark room)
// }
(function installTestCamera(config) {
  const W = 1280;
  const H = 720;
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext("2d");
  const light = document.createElement("canvas");
  light.width = W;
  light.height = H;
  const lctx = light.getContext("2d");
  const load = (url) => {
    const image = new Image();
    image.src = url;
    return image;
  };
  const face = config.face ? load(config.face) : null;
  const frames = {};
  for (const [color, urls] of Object.entries(config.frames || {})) frames[color.toUpperCase()] = urls.map(load);
  // How many times each colour has come up: each time shows that colour's next pose.
  const shown = { color: null, times: {} };
  const started = performance.now();
  const state = (window.__testCamera = { constraints: null, colorsSeen: [] });

  function currentColor() {
    const flash = document.querySelector("[data-kenali-flash]");
    return flash && flash.dataset.color ? flash.dataset.color.toUpperCase() : null;
  }

  function drawFace(t) {
    ctx.fillStyle = "#6b6f76";
    ctx.fillRect(0, 0, W, H);
    if (!face.complete || !face.naturalWidth) return;
    const rotate = ((config.rotate || 0) * Math.PI) / 180;
    const upright = Math.abs(Math.sin(rotate)) > 0.5;
    const fw = upright ? face.naturalHeight : face.naturalWidth;
    const fh = upright ? face.naturalWidth : face.naturalHeight;
    const scale = Math.min(W / fw, H / fh);
    // A hand's tremor: a few pixels of slow drift.
    const dx = 4 * Math.sin(t * 2.3);
    const dy = 3 * Math.cos(t * 1.9);
    ctx.save();
    ctx.translate(W / 2 + dx, H / 2 + dy);
    ctx.rotate(rotate);
    ctx.drawImage(face, (-face.naturalWidth * scale) / 2, (-face.naturalHeight * scale) / 2, face.naturalWidth * scale, face.naturalHeight * scale);
    ctx.restore();
    if (config.dim !== undefined) {
      ctx.fillStyle = `rgba(0, 0, 0, ${1 - config.dim})`;
      ctx.fillRect(0, 0, W, H);
    }
  }

  function draw() {
    const t = (performance.now() - started) / 1000;
    const color = currentColor();
    if (color && color !== shown.color) {
      shown.times[color] = (shown.times[color] ?? -1) + 1;
      state.colorsSeen.push(color);
    }
    shown.color = color;
    const lit = config.ignoresFlash ? null : color;
    if (face) {
      drawFace(t);
      if (lit) {
        // v + strength × v × colour: light added in proportion to the surface's brightness.
        lctx.globalCompositeOperation = "copy";
        lctx.drawImage(canvas, 0, 0);
        lctx.globalCompositeOperation = "multiply";
        lctx.fillStyle = lit;
        lctx.fillRect(0, 0, W, H);
        ctx.save();
        ctx.globalCompositeOperation = "lighter";
        ctx.globalAlpha = config.strength ?? 0.35;
        ctx.drawImage(light, 0, 0);
        ctx.restore();
      }
    } else {
      const set = frames[lit || "AMBIENT"] || frames.AMBIENT || [];
      const image = set.length ? set[(shown.times[lit] ?? 0) % set.length] : null;
      // A hand never holds a phone perfectly still: a fraction of a pixel of drift.
      if (image && image.complete) ctx.drawImage(image, 0.5 * Math.sin(t * 7.1), 0.5 * Math.cos(t * 5.3), W, H);
    }
  }
  // 30 frames a second, as a phone's camera films.
  setInterval(draw, 33);
  draw();
  const stream = canvas.captureStream(30);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    state.constraints = constraints;
    return stream;
  };
})(arguments[0]);
