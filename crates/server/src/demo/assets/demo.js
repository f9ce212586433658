// The demo page: the fintech's app, calling its backend (this server's /demo/api routes) for
// challenges and decisions, and the Kenali web SDK for the captures.
import { captureKtp, captureSelfie, CaptureError } from "/demo/assets/kenali-sdk.js";

const $ = (id) => document.getElementById(id);
let customerId = null;

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function backend(path, body) {
  const response = await fetch(`/demo/api/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error ?? {};
    throw new Error(`${error.code ?? response.status}: ${error.message ?? "the request failed"}`);
  }
  return answer;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
}

/** A table of voters: name, verdict, score, reason (SPEC §6). */
function votersTable(title, voters) {
  const table = document.createElement("table");
  table.dataset.voters = title;
  const caption = document.createElement("caption");
  caption.textContent = title;
  const head = document.createElement("tr");
  for (const name of ["voter", "verdict", "score", "reason"]) {
    const th = document.createElement("th");
    th.textContent = name;
    head.append(th);
  }
  table.append(caption, head);
  for (const voter of voters ?? []) {
    const row = document.createElement("tr");
    row.dataset.voter = voter.name;
    cell(row, voter.name);
    const verdict = voter.passed === true ? "passed" : voter.passed === false ? "failed" : "abstained";
    cell(row, verdict, { passed: "pass", failed: "fail", abstained: "abstain" }[verdict]);
    cell(row, typeof voter.score === "number" ? voter.score.toFixed(3) : "");
    cell(row, voter.reason ?? "");
    table.append(row);
  }
  return table;
}

function verdictLine(text, good) {
  const p = document.createElement("p");
  p.className = "verdict";
  p.dataset.good = String(good);
  p.textContent = text;
  return p;
}

function statsLine(stats) {
  const p = document.createElement("p");
  p.className = "stats";
  const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
  p.textContent =
    `${stats.frames} frames of ${stats.width}×${stats.height}, bundle ${kb(stats.bundleBytes)} ` +
    `(${kb(stats.bundleBytes / Math.max(1, stats.frames))} a frame), first colour to signed bundle ${stats.flashToSignedMs} ms`;
  return p;
}

$("customer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  $("create-customer").disabled = true;
  try {
    const { customer } = await backend("customers", { fullName: $("full-name").value });
    customerId = customer.id;
    const result = $("customer-result");
    result.replaceChildren(verdictLine(`Customer ${customer.id} created, tier ${customer.tier}`, true));
    result.dataset.customerId = customer.id;
    $("step-ktp").hidden = false;
    $("step-step-up").hidden = false;
  } catch (error) {
    showError(error.message);
    $("create-customer").disabled = false;
  }
});

/** One capture step: challenge from the backend, the SDK's capture, the decision back. */
async function runStep({ button, container, result, challengePath, decidePath, capture, render }) {
  showError("");
  button.disabled = true;
  result.replaceChildren();
  try {
    const { flashChallenge } = await backend(challengePath, { customerId });
    const { bundle, stats } = await capture({ challenge: flashChallenge, container });
    result.dataset.state = "deciding";
    const answer = await backend(decidePath, { customerId, bundle });
    result.replaceChildren(...render(answer), statsLine(stats));
    result.dataset.state = "decided";
  } catch (error) {
    const message = error instanceof CaptureError ? `${error.code}: ${error.message}` : error.message;
    const alert = document.createElement("p");
    alert.className = "error";
    alert.setAttribute("role", "alert");
    alert.textContent = message;
    result.replaceChildren(alert);
    result.dataset.state = "error";
  } finally {
    button.disabled = false;
  }
}

$("start-ktp").addEventListener("click", () =>
  runStep({
    button: $("start-ktp"),
    container: $("ktp-capture"),
    result: $("ktp-result"),
    challengePath: "ktp/challenge",
    decidePath: "ktp/capture",
    capture: captureKtp,
    render: (answer) => {
      const ktp = answer.ktpBundle;
      const line = verdictLine(`KTP ${ktp.verdict} (assurance ${ktp.assuranceTier}), tier ${answer.tier}`, ktp.verdict === "passed");
      line.dataset.verdict = ktp.verdict;
      const fields = document.createElement("table");
      fields.dataset.ocr = "";
      for (const [name, value] of Object.entries(ktp.ocr ?? {})) {
        const row = document.createElement("tr");
        cell(row, name);
        cell(row, value ?? "—");
        fields.append(row);
      }
      return [line, fields, votersTable("anti-spoof", answer.antiSpoof?.voters), votersTable("tamper", answer.tamper?.voters)];
    },
  }),
);

$("start-step-up").addEventListener("click", () =>
  runStep({
    button: $("start-step-up"),
    container: $("step-up-capture"),
    result: $("step-up-result"),
    challengePath: "face/challenge",
    decidePath: "step-up",
    capture: captureSelfie,
    render: (answer) => {
      const match = answer.match ?? {};
      const score = `score ${Number(match.score ?? 0).toFixed(3)}, threshold ${Number(match.threshold ?? 0).toFixed(2)}`;
      const text = answer.allow
        ? `Allowed: a live person (${answer.liveness?.fused}), the same as the card (${score})`
        : `Refused: ${(answer.reasons ?? []).join(", ")}${match.score === undefined ? "" : ` (${score})`}`;
      const line = verdictLine(text, answer.allow === true);
      line.dataset.allow = String(answer.allow);
      line.dataset.liveness = answer.liveness?.fused ?? "";
      return [line, votersTable("liveness", answer.liveness?.voters)];
    },
  }),
);
