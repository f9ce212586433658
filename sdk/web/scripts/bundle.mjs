// The SDK as one minified ES module for a <script type="module"> (what Kenali's /demo page
// loads): esbuild from the npm registry. `node scripts/bundle.mjs` writes it;
// `node scripts/bundle.mjs --check` fails when the committed copy differs from a fresh build.
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

export const OUTPUT = new URL("../../../crates/server/src/demo/assets/kenali-sdk.js", import.meta.url);

export async function bundle() {
  const result = await build({
    entryPoints: [new URL("../src/index.ts", import.meta.url).pathname],
    bundle: true,
    format: "esm",
    minify: true,
    target: "es2022",
    legalComments: "none",
    write: false,
  });
  return result.outputFiles[0].text;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = await bundle();
  if (process.argv.includes("--check")) {
    const committed = readFileSync(OUTPUT, "utf8");
    if (committed !== text) {
      console.error(`${OUTPUT.pathname} is not the build of src/: run \`npm run bundle\` and commit it`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, text);
  }
  console.log(`kenali-sdk.js: ${text.length} bytes, ${gzipSync(text).length} bytes gzipped`);
}
