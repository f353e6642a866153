// Browser test of the sandbox console: drives Debian's headless Chromium over the DevTools
// protocol on a pipe (--remote-debugging-pipe; no npm packages needed). Run by
// .ci/browser-tests.sh, which starts the sandbox and creates the data through the CLI.
//
//   node console.mjs URL --users a@x.io,b@x.io --accept c@x.io [--screenshot out.png]
//
// Checks that every user appears on the page, presses the Accept button of the invitation
// sent to the --accept address with a real mouse click, and waits until the page shows it
// `accepted` (and the sandbox agrees). Exits non-zero with the reason otherwise.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, ...rest] = process.argv.slice(2);
const option = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
const users = (option("--users") || "").split(",").filter(Boolean);
const acceptEmail = option("--accept");
const screenshot = option("--screenshot");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!url || users.length === 0 || !acceptEmail) {
  console.error("usage: node console.mjs URL --users a,b --accept email [--screenshot file]");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "pearsana-console-chromium-"));
const chromium = spawn(chromiumPath, [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--remote-debugging-pipe",
  "about:blank",
], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
let chromiumErrors = "";
chromium.stderr.on("data", (d) => { chromiumErrors += d; });

// The protocol: NUL-terminated JSON messages, commands on fd 3, answers and events on fd 4.
let nextId = 1;
const pending = new Map();
let buffer = "";
chromium.stdio[4].on("data", (chunk) => {
  buffer += chunk.toString("utf8");
  let end;
  while ((end = buffer.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(JSON.stringify(message.error)));
      else resolve(message.result);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  const message = { id, method, params };
  if (sessionId) message.sessionId = sessionId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    chromium.stdio[3].write(JSON.stringify(message) + "\0");
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last === true) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

let exitCode = 0;
try {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const page = (method, params) => send(method, params, sessionId);
  const evaluate = async (expression) => {
    const { result, exceptionDetails } = await page("Runtime.evaluate", { expression, returnByValue: true });
    if (exceptionDetails) throw new Error(exceptionDetails.text);
    return result.value;
  };
  await page("Page.enable");
  await page("Emulation.setDeviceMetricsOverride", { width: 1280, height: 1000, deviceScaleFactor: 1, mobile: false });
  await page("Page.navigate", { url });

  const cellsOf = (table) => `[...document.querySelectorAll('#${table} tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))`;
  await waitFor("the users created through the CLI", async () => {
    const rows = await evaluate(cellsOf("users"));
    const shown = rows.map((r) => r[0]);
    return users.every((u) => shown.includes(u)) || shown;
  });
  console.log(`users on the page: ${users.join(", ")}`);

  const invitationRow = `[...document.querySelectorAll('#invitations tbody tr')].find(tr => tr.cells[0].textContent === ${JSON.stringify(acceptEmail)})`;
  await waitFor("the pending invitation with an Accept button", async () =>
    (await evaluate(`(() => { const tr = ${invitationRow}; return tr ? tr.cells[2].textContent + (tr.querySelector('button.accept') ? '+button' : '') : null; })()`)) === "pending+button" || "no pending row yet");

  // Press Accept with the mouse, where the button is on screen.
  const box = await evaluate(`(() => { const b = (${invitationRow}).querySelector('button.accept'); b.scrollIntoView(); const r = b.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`);
  for (const type of ["mouseMoved", "mousePressed", "mouseReleased"]) {
    await page("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
  }
  await waitFor("the invitation to show accepted", async () =>
    (await evaluate(`(${invitationRow}).cells[2].textContent`)) === "accepted" || "not yet");
  console.log(`invitation for ${acceptEmail}: accepted on the page`);

  // The sandbox agrees, and the accepted person is now a user on the page.
  const tokenResponse = await fetch(new URL("/oauth2/token", url), {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: "sandbox-client", client_secret: "sandbox-secret" }),
  });
  const { access_token } = await tokenResponse.json();
  const state = await (await fetch(new URL("/sandbox/v1/invitations", url), { headers: { Authorization: `Bearer ${access_token}` } })).json();
  const stored = state.invitations.find((i) => i.email === acceptEmail);
  if (!stored || stored.status !== "accepted") throw new Error(`the sandbox says ${JSON.stringify(stored)}`);
  await waitFor("the accepted person among the users", async () =>
    (await evaluate(cellsOf("users"))).some((r) => r[0] === acceptEmail) || "not yet");
  console.log("the sandbox stores the invitation as accepted");

  if (screenshot) {
    await sleep(300);
    const { data } = await page("Page.captureScreenshot", { format: "png", captureBeyondViewport: true });
    writeFileSync(screenshot, Buffer.from(data, "base64"));
    console.log(`screenshot: ${screenshot}`);
  }
  console.log("console browser test: ok");
} catch (error) {
  console.error(`console browser test FAILED: ${error.message}`);
  if (chromiumErrors) console.error(`chromium said:\n${chromiumErrors.slice(-2000)}`);
  exitCode = 1;
} finally {
  try { await Promise.race([send("Browser.close"), sleep(2000)]); } catch { /* already gone */ }
  const exited = new Promise((resolve) => chromium.once("exit", resolve));
  if (chromium.exitCode === null) chromium.kill("SIGKILL");
  await Promise.race([exited, sleep(5000)]);
  // Chromium's helper processes may still be flushing the profile for a moment.
  for (let attempt = 0; attempt < 10; attempt++) {
    try { rmSync(profile, { recursive: true, force: true }); break; } catch { await sleep(200); }
  }
}
process.exit(exitCode);
