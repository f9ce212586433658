import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { canonicalize, CanonicalizationError } from "../src/canonical.js";

const vectors = JSON.parse(readFileSync(new URL("../../test/fixtures/signing-vectors.json", import.meta.url), "utf8"));

test("RFC 8785's own examples canonicalize byte for byte", () => {
  for (const { input, output } of vectors.canonical as { input: string; output: string }[]) {
    assert.equal(canonicalize(JSON.parse(input)), output);
  }
});

test("members sort by UTF-16 code units, as RFC 8785 §3.2.3 lists them", () => {
  // Read off the text: Object.keys would list the integer-like "1" first, whatever the order.
  const output: string = vectors.canonical[1].output;
  const order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"].map((name) =>
    output.indexOf(`${JSON.stringify(name)}:`),
  );
  assert.ok(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)), String(order));
});

test("values without a JSON form are refused, not written", () => {
  for (const bad of [NaN, Infinity, -Infinity, undefined, () => 1, 10n, new Date(0), { nested: [1, undefined] }]) {
    assert.throws(() => canonicalize(bad), CanonicalizationError, String(bad));
  }
  assert.equal(canonicalize(-0), "0");
  assert.equal(canonicalize({ b: [], a: {} }), '{"a":{},"b":[]}');
});
