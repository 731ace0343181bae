// End-to-end test of the playground in headless chromium (driven by playwright-core; the
// system browser, never a downloaded one). Run by `cargo xtask test --only browser`, which builds
// the site, serves it on a free loopback port and sets:
//
//   EDGEPORT_URL       the served page, http://127.0.0.1:PORT/
//   EDGEPORT_BIN       the release CLI, whose output every download must equal byte for byte
//   EDGEPORT_CHROMIUM  the browser (default /usr/bin/chromium)
//   EDGEPORT_NPM       the npm project holding playwright-core
//   EDGEPORT_OUT       tests/out (screenshots go to tests/out/screenshots)
//   EDGEPORT_E2E_ONLY  optional: a regular expression; only the steps whose names match run (for
//                      working on a few steps; the first step, which loads the page, always runs)
//
// Every check is a named step; the run lists them and exits non-zero if any failed.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

import { dynamicModel, unsupportedModel } from "./onnx.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const url = process.env.EDGEPORT_URL || "http://127.0.0.1:8080/";
const origin = new URL(url).origin;
const cli = process.env.EDGEPORT_BIN || path.join(repo, "target", "release", "edgeport");
const chromiumPath = process.env.EDGEPORT_CHROMIUM || "/usr/bin/chromium";
const npmDir = process.env.EDGEPORT_NPM || path.join(os.homedir(), ".cache", "edgeport", "tools", "browser-npm");
const outDir = process.env.EDGEPORT_OUT || path.join(repo, "tests", "out");
const shots = path.join(outDir, "screenshots");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "edgeport-e2e-"));
const fixture = (name) => path.join(repo, "tests", "fixtures", name, "model.onnx");

const { chromium } = createRequire(path.join(npmDir, "package.json"))("playwright-core");

const sha256 = (buf) => crypto.createHash("sha256").update(buf).digest("hex");
const T = { timeout: 120_000 };

// ---- the CLI's bytes for the same options -------------------------------------------------------

const cliCache = new Map();
function cliBytes(model, flags) {
  const key = `${model} ${flags.join(" ")}`;
  if (!cliCache.has(key)) {
    const to = flags[flags.indexOf("--to") + 1];
    const out = path.join(work, `cli-${cliCache.size}.${{ coreml: "mlpackage.zip", onnx: "onnx" }[to] ?? "tflite"}`);
    execFileSync(cli, ["convert", model, ...flags, "-o", out], { stdio: ["ignore", "ignore", "inherit"] });
    cliCache.set(key, fs.readFileSync(out));
  }
  return cliCache.get(key);
}

// ---- the browser ---------------------------------------------------------------------------------

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgeport-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: chromiumPath,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1366, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    // WebGPU on SwiftShader: Chromium blocklists CPU adapters unless asked.
    "--enable-unsafe-webgpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const requests = [];
const consoleErrors = [];
context.on("request", (r) => {
  requests.push({ url: r.url(), method: r.method(), body: r.postDataBuffer(), type: r.resourceType(), at: Date.now() });
});
// CSP violations, reported by the page itself (init scripts run outside the page's CSP).
await context.addInitScript(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
});

const page = context.pages()[0] ?? (await context.newPage());
const watch = (p, where) => {
  p.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`${where}: ${m.text()}`);
  });
  p.on("pageerror", (e) => consoleErrors.push(`${where} exception: ${e.message}`));
};
watch(page, "page");
page.on("worker", (w) => {
  w.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`worker: ${m.text()}`);
  });
});

const $ = (id) => page.locator(`[data-testid="${id}"]`);

// ---- steps ---------------------------------------------------------------------------------------

const results = [];
const only = process.env.EDGEPORT_E2E_ONLY ? new RegExp(process.env.EDGEPORT_E2E_ONLY) : null;
async function step(name, fn) {
  if (only && results.length > 0 && !only.test(name)) {
    console.log(`  skip  ${name}`);
    return;
  }
  const t = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t });
    console.log(`  ok    ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t, error: e });
    console.log(`  FAIL  ${name}: ${e?.stack ?? e}`);
    await page.screenshot({ path: path.join(shots, `failed-${results.length}.png`), fullPage: true }).catch(() => {});
  }
}

async function upload(name, buffer) {
  await $("file-input").setInputFiles({ name, mimeType: "application/octet-stream", buffer });
}

async function summaryReady() {
  await page.locator('[data-testid="summary"][data-ready="true"]').waitFor(T);
  await assertNoError();
}

async function assertNoError() {
  assert.equal(await $("error").count(), 0, `unexpected error: ${await $("error").allInnerTexts()}`);
}

/**
 * Sets the target and its options the way a person would. TFLite: `quantize` is none, fp16,
 * int8-weights or int8 (with `method`, `iface` and `keepFloat`); Core ML: `weights` is none,
 * int8-weights, palettize (with `bits` and `mode`) or w8a8 (with `method`); any target: `prune`
 * (none or a sparsity).
 */
async function choose({
  to = "tflite", nhwc = false, quantize = "none", method = "minmax", iface = "float32", keepFloat = "",
  weights = "none", bits = "4", mode = "kmeans", ios = null, precision = null, shapes = null, prune = "none",
}) {
  await $(`target-${to}`).check();
  if (to === "tflite" || to === "onnx") {
    if (to === "tflite") await (nhwc ? $("opt-nhwc").check() : $("opt-nhwc").uncheck());
    await $(`opt-quantize-${quantize}`).check();
    if (quantize === "int8") {
      await $("opt-calibration-method").selectOption(method);
      if (to === "tflite") await $("opt-interface").selectOption(iface);
      await $("opt-keep-float").fill(keepFloat);
      await $("opt-keep-float").dispatchEvent("change");
    }
  } else {
    await $("opt-coreml-target").selectOption(ios ?? "ios16");
    await $(`opt-${precision ?? "fp16"}`).check();
    await $(`opt-weights-${weights}`).check();
    if (weights === "palettize") {
      await $("opt-palette-bits").selectOption(bits);
      await $("opt-palette-mode").selectOption(mode);
    }
    if (weights === "w8a8") await $("opt-calibration-method").selectOption(method);
  }
  await $("opt-prune").selectOption(prune);
  if (shapes !== null) await $("opt-input-shapes").fill(shapes);
}

/** Converts, downloads, and checks the bytes against the CLI; returns the download's bytes. */
async function convertAndCompare(model, opts, cliFlags, fileName) {
  await choose(opts);
  await $("convert").click();
  const link = page.locator('[data-testid="result"][data-ready="true"] [data-testid="download"]');
  await link.waitFor(T);
  await assertNoError();
  for (const s of ["parse", "optimize", "export", "verify"]) {
    assert.equal(await $(`stage-${s}`).getAttribute("data-state"), "done", `stage ${s}`);
  }
  const [download] = await Promise.all([page.waitForEvent("download", T), link.click()]);
  assert.equal(download.suggestedFilename(), fileName);
  const saved = path.join(work, `dl-${Date.now()}-${fileName}`);
  await download.saveAs(saved);
  const got = fs.readFileSync(saved);
  const want = cliBytes(model, cliFlags);
  assert.equal(got.length, want.length, `size of ${fileName}: browser ${got.length}, CLI ${want.length}`);
  assert.equal(sha256(got), sha256(want), `${fileName}: browser bytes differ from the CLI's`);
  assert.equal(await link.getAttribute("data-sha256"), sha256(got), "shown sha256");
  assert.equal(Number(await link.getAttribute("data-size")), got.length, "shown size");
  assert.match(await $("sha256").innerText(), new RegExp(sha256(got)));
  assert.ok((await $("verified").innerText()).length > 10, "structural check shown");
  // a lossy conversion goes on to its fidelity check; the page takes new work after it
  await page.locator('[data-testid="fidelity-panel"]:not([data-state="running"])').waitFor(T);
  await assertNoError();
  return got;
}

/** The layer rows of the fidelity table, as shown (top to bottom). */
async function fidelityLayers() {
  return page.$$eval('[data-testid="fidelity-layer"]', (rows) =>
    rows.map((r) => ({ node: r.dataset.node, sqnr: Number(r.dataset.sqnr), int8: r.dataset.int8 === "true" })),
  );
}

/**
 * Checks the fidelity panel after a lossy conversion: the variant, outputs, at least one layer
 * row, worst (lowest SQNR) first, and that the headers re-sort the table. Returns the rows.
 */
async function fidelityTable(variant) {
  await page.locator('[data-testid="fidelity-panel"][data-state="ready"]').waitFor(T);
  await assertNoError();
  assert.equal(await $("fidelity-method").getAttribute("data-variant"), variant);
  assert.ok((await page.locator('[data-testid="fidelity-output"]').count()) >= 1, "a row per output");
  const rows = await fidelityLayers();
  assert.ok(rows.length >= 1, "at least one layer row");
  if (rows.length >= 2) assert.ok(rows[0].sqnr <= rows[1].sqnr, `worst first: ${rows[0].sqnr} then ${rows[1].sqnr}`);
  const sqnr = rows.map((r) => r.sqnr);
  assert.deepEqual(sqnr, [...sqnr].sort((a, b) => a - b), "sorted by SQNR, worst first");
  await $("fidelity-sort-node").click();
  const byNode = (await fidelityLayers()).map((r) => r.node);
  assert.deepEqual(byNode, [...byNode].sort(), "a click on 'node' sorts by node");
  assert.equal(await page.locator('[data-testid="fidelity-layers"] th[aria-sort="ascending"]').count(), 1);
  await $("fidelity-sort-sqnr").click();
  await $("fidelity-sort-sqnr").click();
  const best = (await fidelityLayers()).map((r) => r.sqnr);
  assert.deepEqual(best, [...sqnr].sort((a, b) => b - a), "a second click on SQNR puts the best first");
  await $("fidelity-sort-sqnr").click();
  assert.deepEqual((await fidelityLayers()).map((r) => r.sqnr), sqnr, "and a third, the worst first again");
  return rows;
}

fs.rmSync(shots, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });
let initialRequests = 0;

await step("page loads, engine worker starts, empty state", async () => {
  await page.goto(url, { waitUntil: "load" });
  await page.locator('main[data-engine="ready"]').waitFor(T);
  await $("dropzone").waitFor();
  assert.equal(await $("convert").isDisabled(), true, "convert disabled without a model");
  assert.equal(await $("cancel").isDisabled(), true, "cancel disabled when idle");
  assert.equal(await page.locator("script:not([src])").count(), 0, "no inline scripts");
  await page.screenshot({ path: path.join(shots, "empty.png") });
  initialRequests = requests.length;
});

await step("drop zone is keyboard reachable and opens the file picker", async () => {
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  let focused = "";
  for (let i = 0; i < 10 && focused !== "dropzone"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? "");
  }
  assert.equal(focused, "dropzone", "Tab reaches the drop zone");
  // playwright turns on file-chooser interception asynchronously; give it a moment, or chromium
  // may open (and headless, drop) the real dialog instead.
  const chooserEvent = page.waitForEvent("filechooser", { timeout: 10_000 });
  await page.waitForTimeout(300);
  await page.keyboard.press("Enter");
  const chooser = await chooserEvent;
  await chooser.setFiles({ name: "mlp_gelu.onnx", mimeType: "application/octet-stream", buffer: fs.readFileSync(fixture("mlp_gelu")) });
  await summaryReady();
});

await step("drag and drop onto the drop zone", async () => {
  const data = fs.readFileSync(fixture("mlp_gelu")).toString("base64");
  const dt = await page.evaluateHandle((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], "dropped.onnx"));
    return t;
  }, data);
  await $("dropzone").dispatchEvent("dragover", { dataTransfer: dt });
  await $("dropzone").dispatchEvent("drop", { dataTransfer: dt });
  await page.locator('[data-testid="model-name"]', { hasText: "dropped.onnx" }).waitFor(T);
  await summaryReady();
});

await step("mobilenetv2: summary (inputs, outputs, ops, params, FLOPs)", async () => {
  await upload("mobilenetv2.onnx", fs.readFileSync(fixture("mobilenetv2")));
  await summaryReady();
  const text = await $("summary").innerText();
  for (const want of ["input", "[1, 3, 224, 224]", "logits", "[1, 100]", "float32", "Conv", "665.4 K", "192.46 M", "90.90 M MACs", "4.59 MiB"]) {
    assert.ok(text.includes(want), `summary lacks ${want}:\n${text}`);
  }
  await page.screenshot({ path: path.join(shots, "summary.png") });
});

const mnv2 = fixture("mobilenetv2");
await step("mobilenetv2 -> .tflite equals the CLI", async () => {
  await convertAndCompare(mnv2, { to: "tflite" }, ["--to", "tflite"], "mobilenetv2.tflite");
  await page.screenshot({ path: path.join(shots, "result.png") });
});
await step("mobilenetv2 -> .tflite --nhwc-io equals the CLI", async () => {
  await convertAndCompare(mnv2, { to: "tflite", nhwc: true }, ["--to", "tflite", "--nhwc-io"], "mobilenetv2.tflite");
});
await step("mobilenetv2 -> .tflite with float16 weights (--quantize fp16) equals the CLI", async () => {
  const got = await convertAndCompare(mnv2, { to: "tflite", quantize: "fp16" }, ["--to", "tflite", "--quantize", "fp16"], "mobilenetv2.tflite");
  assert.ok(got.length < 1_400_000, `${got.length} bytes: about half the float32 file`);
});
await step("mobilenetv2 -> .mlpackage.zip (iOS16, fp16 defaults) equals the CLI", async () => {
  await convertAndCompare(mnv2, { to: "coreml" }, ["--to", "coreml"], "mobilenetv2.mlpackage.zip");
  await page.screenshot({ path: path.join(shots, "result-coreml.png") });
});
await step("mobilenetv2 -> .mlpackage.zip with int8 weights (--quantize int8-weights) equals the CLI", async () => {
  await convertAndCompare(mnv2, { to: "coreml", weights: "int8-weights" }, ["--to", "coreml", "--target", "ios16", "--precision", "fp16", "--quantize", "int8-weights"], "mobilenetv2.mlpackage.zip");
  await fidelityTable("int8-weights+coreml-fp16");
});
await step("mobilenetv2 -> .mlpackage.zip fp32 equals the CLI", async () => {
  await convertAndCompare(mnv2, { to: "coreml", precision: "fp32" }, ["--to", "coreml", "--precision", "fp32"], "mobilenetv2.mlpackage.zip");
});

await step("transformer -> .tflite and .mlpackage.zip (iOS17 fp32) equal the CLI", async () => {
  const m = fixture("transformer");
  await upload("transformer.onnx", fs.readFileSync(m));
  await summaryReady();
  await convertAndCompare(m, { to: "tflite" }, ["--to", "tflite"], "transformer.tflite");
  await convertAndCompare(m, { to: "coreml", ios: "ios17", precision: "fp32" }, ["--to", "coreml", "--target", "ios17", "--precision", "fp32"], "transformer.mlpackage.zip");
});

await step("mlp_gelu -> .mlpackage.zip (iOS15) equals the CLI", async () => {
  const m = fixture("mlp_gelu");
  await upload("mlp_gelu.onnx", fs.readFileSync(m));
  await summaryReady();
  await convertAndCompare(m, { to: "coreml", ios: "ios15" }, ["--to", "coreml", "--target", "ios15"], "mlp_gelu.mlpackage.zip");
});

const requestsBeforeBad = () => requests.length;
const good = fs.readFileSync(fixture("mlp_gelu"));
const badFiles = [
  ["image.onnx", Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex"), /not a valid ONNX model/],
  ["truncated.onnx", fs.readFileSync(fixture("mobilenetv2")).subarray(0, 4096), /not a valid ONNX model/],
  ["empty.onnx", Buffer.alloc(0), /empty/],
];
for (const [name, bytes, title] of badFiles) {
  await step(`bad file ${name}: a clear error, then a good file still works`, async () => {
    await upload(name, bytes);
    await $("error").waitFor(T);
    const text = await $("error").innerText();
    assert.match(text, title, text);
    assert.equal(await $("convert").isDisabled(), true, "no convert after a bad file");
    if (name === "image.onnx") await page.screenshot({ path: path.join(shots, "error-bad-file.png") });
    await upload("mlp_gelu.onnx", good);
    await summaryReady();
    await convertAndCompare(fixture("mlp_gelu"), { to: "tflite" }, ["--to", "tflite"], "mlp_gelu.tflite");
  });
}

await step("unsupported ops: every failing node listed", async () => {
  await upload("unsupported.onnx", unsupportedModel());
  await $("error-nodes").waitFor(T);
  const nodes = await page.locator('[data-testid="error-nodes"] li').allInnerTexts();
  assert.equal(nodes.length, 2, nodes.join("\n"));
  assert.ok(nodes[0].includes("fancy_0") && nodes[0].includes("FancyOp"), nodes[0]);
  assert.ok(nodes[1].includes("weird_1") && nodes[1].includes("WeirdOp"), nodes[1]);
  assert.equal(await $("error").getAttribute("data-code"), "unsupported");
  await page.screenshot({ path: path.join(shots, "error-unsupported.png") });
});

await step("dynamic dims: input shape override, then convert equals the CLI", async () => {
  const dyn = path.join(work, "dynamic.onnx");
  fs.writeFileSync(dyn, dynamicModel());
  await upload("dynamic.onnx", fs.readFileSync(dyn));
  await $("error").waitFor(T);
  assert.match(await $("error").innerText(), /Input 'x' has an open dimension/);
  await $("opt-input-shapes").fill("x=2,4");
  await $("apply-shapes").click();
  await summaryReady();
  assert.ok((await $("summary").innerText()).includes("[2, 4]"));
  await convertAndCompare(dyn, { to: "tflite" }, ["--to", "tflite", "--input-shape", "x=2,4"], "dynamic.tflite");
});

await step("cancel during a conversion stops it and leaves the app usable", async () => {
  await upload("mobilenetv2.onnx", fs.readFileSync(mnv2));
  await summaryReady();
  await choose({ to: "coreml", precision: "fp32" });
  // A conversion can finish before the click lands; then try again (a few times at most).
  let cancelled = false;
  for (let attempt = 0; attempt < 4 && !cancelled; attempt++) {
    await $("convert").click();
    try {
      await page.locator('[data-testid="cancel"]:not([disabled])').click({ timeout: 5_000 });
      await page.locator('[data-testid="status"]', { hasText: "Conversion cancelled." }).waitFor({ timeout: 10_000 });
      cancelled = true;
    } catch {
      await page.locator('[data-testid="result"][data-ready="true"]').waitFor(T);
    }
  }
  assert.ok(cancelled, "a conversion could be cancelled");
  assert.equal(await page.locator('[data-testid="result"][data-ready="true"]').count(), 0, "no result after cancel");
  for (const s of ["parse", "optimize", "export", "verify"]) {
    assert.equal(await $(`stage-${s}`).getAttribute("data-state"), "pending", `stage ${s} after cancel`);
  }
  // The cancelled worker is terminated and a fresh one takes over; a late reply cannot land.
  await page.locator('main[data-engine="ready"]').waitFor(T);
  const engineWorkers = page.workers().filter((w) => w.url().includes("playground-worker"));
  assert.equal(engineWorkers.length, 1, "exactly one engine worker after cancel");
  await page.waitForTimeout(1500);
  assert.equal(await page.locator('[data-testid="result"][data-ready="true"]').count(), 0, "nothing arrives after cancel");
  await convertAndCompare(mnv2, { to: "tflite" }, ["--to", "tflite"], "mobilenetv2.tflite");
});

let sampleRequests = [];
await step("sample model: fetched on click, summary, convert equals the CLI", async () => {
  const before = requests.length;
  await $("sample").click();
  await summaryReady();
  assert.ok((await $("summary").innerText()).includes("[1, 3, 224, 224]"));
  sampleRequests = requests.slice(before).filter((r) => new URL(r.url).pathname.startsWith("/sample/"));
  assert.equal(sampleRequests.length, 1, "one request for the sample");
  await convertAndCompare(mnv2, { to: "tflite" }, ["--to", "tflite"], "mobilenetv2.tflite");
});

// ---- measuring in the browser ---------------------------------------------------------------

/** Sets the measure panel's backend, runs and variants, measures, and returns its rows. */
async function measure(runs, variants = ["fp32", "fp16"], backend = "cpu") {
  await $("measure-backend").selectOption(backend);
  for (const v of ["fp32", "fp16", "coreml-fp16"]) {
    const box = $(`measure-variant-${v}`);
    if ((await box.isChecked()) !== variants.includes(v)) await box.click();
  }
  await $("measure-runs").fill(String(runs));
  await $("measure-runs").dispatchEvent("change");
  await $("measure-button").click();
  await page.waitForSelector('[data-testid="measure-results"][data-ready="true"]', { timeout: 180_000 });
  return await page.$$eval('[data-testid="measure-row"]', (rows) =>
    rows.map((r) => ({
      variant: r.dataset.variant,
      p50: Number(r.dataset.p50),
      maxAbsError: Number(r.dataset.maxAbsError),
      referenceMaxAbs: Number(r.dataset.referenceMaxAbs),
      cosine: Number(r.dataset.cosine),
    })),
  );
}

await step("measure in this browser: fp32, fp16 and coreml-fp16 on the CPU (wasm), cold and warm apart, both close to fp32", async () => {
  const rows = await measure(5, ["fp32", "fp16", "coreml-fp16"]);
  // loaded on demand (by the first fidelity check or this measurement), never with the page
  const loaded = (from, to) => requests.slice(from, to).map((r) => new URL(r.url).pathname);
  assert.ok(!loaded(0, initialRequests).includes("/playground-runtime_bg.wasm"), "the runtime worker is not part of the initial load");
  assert.ok(loaded(initialRequests).includes("/playground-runtime_bg.wasm"), `the runtime worker loads on demand: ${loaded(initialRequests)}`);
  assert.deepEqual(rows.map((r) => r.variant), ["fp32", "fp16", "coreml-fp16"]);
  assert.ok(rows.every((r) => r.p50 > 0), JSON.stringify(rows));
  assert.equal(rows[0].maxAbsError, 0, "fp32 against itself");
  for (const r of rows.slice(1)) assert.ok(r.maxAbsError > 0 && r.maxAbsError < 0.05 && r.cosine > 0.999, JSON.stringify(r));
  const table = await $("measure-table").innerText();
  for (const col of ["load", "first run (cold)", "warm p50", "p95", "p99"]) assert.ok(table.includes(col), col);
  const env = await $("measure-env").innerText();
  assert.ok(env.includes("WebAssembly") && env.includes("Chrome"), env);
  await $("measure-panel").scrollIntoViewIfNeeded();
  await $("measure-panel").screenshot({ path: path.join(shots, "measure-panel.png") });
  await assertNoError();
});

await step("measure: cancel mid-run stops it and the panel measures again", async () => {
  await $("measure-runs").fill("1000");
  await $("measure-runs").dispatchEvent("change");
  await $("measure-button").click();
  await page.waitForSelector('[data-testid="measure-progress"]', { timeout: 60_000 });
  await $("measure-cancel").click();
  await page.waitForFunction(() => document.body.innerText.includes("Measurement cancelled."), null, { timeout: 30_000 });
  await page.waitForSelector('[data-engine="ready"]', { timeout: 60_000 });
  const rows = await measure(3, ["fp32"]);
  assert.deepEqual(rows.map((r) => r.variant), ["fp32"]);
});

// ---- quantization and its fidelity ---------------------------------------------------------------

const digits = fixture("digits");
const calibrationNpz = path.join(repo, "tests", "fixtures", "digits", "calibration.npz");

await step("mobilenetv2 -> .tflite with int8 weights (hybrid kernels) equals the CLI; fidelity worst first, sortable", async () => {
  await upload("mobilenetv2.onnx", fs.readFileSync(mnv2));
  await summaryReady();
  await convertAndCompare(mnv2, { to: "tflite", quantize: "int8-weights" }, ["--to", "tflite", "--quantize", "int8-weights"], "mobilenetv2.tflite");
  await fidelityTable("int8-weights+fp32");
  await $("fidelity-panel").screenshot({ path: path.join(shots, "fidelity-int8-weights.png") });
});

await step("mobilenetv2 -> .mlpackage.zip pruned to 50 % (--prune 0.5, sparse weights) equals the CLI; fidelity", async () => {
  await convertAndCompare(mnv2, { to: "coreml", prune: "0.5" }, ["--to", "coreml", "--target", "ios16", "--precision", "fp16", "--prune", "0.5"], "mobilenetv2.mlpackage.zip");
  await fidelityTable("prune50+coreml-fp16");
});

await step("digits -> full-integer .tflite without calibration data: the generated-samples note, equals the CLI", async () => {
  await upload("digits.onnx", fs.readFileSync(digits));
  await summaryReady();
  await choose({ to: "tflite", quantize: "int8" });
  if (await $("calibration-clear").count()) await $("calibration-clear").click();
  assert.match(await $("calibration-note").innerText(), /generated samples/);
  await convertAndCompare(digits, { to: "tflite", quantize: "int8" }, ["--to", "tflite", "--quantize", "int8"], "digits.tflite");
  await fidelityTable("int8");
  assert.match(await $("fidelity-method").innerText(), /generated/);
});

await step("digits -> full-integer .tflite calibrated on an uploaded .npz (mse, int8 interface, keep-float auto) equals the CLI", async () => {
  await $("opt-calibration").setInputFiles(calibrationNpz);
  await $("calibration-file").waitFor(T);
  assert.match(await $("calibration-file").innerText(), /calibration\.npz/);
  assert.equal(await $("calibration-note").count(), 0, "no generated-samples note with calibration data");
  const flags = ["--to", "tflite", "--quantize", "int8", "--calibration", calibrationNpz, "--calibration-method", "mse", "--interface", "int8", "--keep-float", "auto"];
  const opts = { to: "tflite", quantize: "int8", method: "mse", iface: "int8", keepFloat: "auto" };
  await convertAndCompare(digits, opts, flags, "digits.tflite");
  const rows = await fidelityTable("int8");
  assert.ok(rows.some((r) => r.int8), "int8 layers listed");
  assert.match(await $("fidelity-method").innerText(), /given/);
  await $("fidelity-panel").screenshot({ path: path.join(shots, "fidelity-int8.png") });
  await page.locator('section[aria-labelledby="target-h"]').screenshot({ path: path.join(shots, "target-int8.png") });
  // a share link keeps the fidelity of the outputs, not the layer table (recomputed from the model)
  const link = await shareLink();
  const report = JSON.parse(zlib.inflateRawSync(Buffer.from(link.split("#r=")[1], "base64url")).toString("utf8"));
  assert.deepEqual(report.conversion.options.keep_float, ["auto"]);
  assert.equal(report.conversion.options.calibration_method, "mse");
  const int8 = report.fidelity.find((f) => f.variant === "int8");
  assert.ok(int8 && int8.outputs.length === 1 && !int8.layers, JSON.stringify(report.fidelity));
  // the same options without the file differ: the upload is what calibrated it
  const generated = cliBytes(digits, flags.filter((f, i) => f !== "--calibration" && flags[i - 1] !== "--calibration"));
  assert.notEqual(sha256(generated), await $("sha256").innerText(), "calibrated on the uploaded samples");
  await $("calibration-clear").click();
  await $("calibration-note").waitFor(T);
});

await step("digits -> .onnx int8 QDQ calibrated on the uploaded .npz (percentile) equals the CLI; fidelity", async () => {
  await $("target-onnx").check();
  await $("opt-quantize-int8").check();
  await $("opt-calibration").setInputFiles(calibrationNpz);
  await $("calibration-file").waitFor(T);
  assert.equal(await $("opt-interface").count(), 0, "ONNX QDQ models keep float inputs: no interface choice");
  const flags = ["--to", "onnx", "--quantize", "int8", "--calibration", calibrationNpz, "--calibration-method", "percentile"];
  await convertAndCompare(digits, { to: "onnx", quantize: "int8", method: "percentile" }, flags, "digits.onnx");
  await fidelityTable("int8");
  await $("calibration-clear").click();
});

await step("digits -> .mlpackage.zip W8A8 (iOS 17, --quantize w8a8) calibrated on the uploaded .npz equals the CLI; fidelity", async () => {
  await choose({ to: "coreml", ios: "ios17", weights: "w8a8" });
  await $("opt-calibration").setInputFiles(calibrationNpz);
  await $("calibration-file").waitFor(T);
  const flags = ["--to", "coreml", "--target", "ios17", "--precision", "fp16", "--quantize", "w8a8", "--calibration", calibrationNpz];
  await convertAndCompare(digits, { to: "coreml", ios: "ios17", weights: "w8a8" }, flags, "digits.mlpackage.zip");
  const rows = await fidelityTable("w8a8+coreml-fp16");
  assert.ok(rows.some((r) => r.int8), "int8 layers listed");
  await $("calibration-clear").click();
  await choose({ to: "coreml", ios: "ios16" });
});

await step("mobilenetv2 -> .onnx with int8 weights (DequantizeLinear) equals the CLI; fidelity", async () => {
  await upload("mobilenetv2.onnx", fs.readFileSync(mnv2));
  await summaryReady();
  assert.equal(await $("opt-quantize-fp16").count(), 0, "no float16 weights for ONNX");
  await convertAndCompare(mnv2, { to: "onnx", quantize: "int8-weights" }, ["--to", "onnx", "--quantize", "int8-weights"], "mobilenetv2.onnx");
  await fidelityTable("int8-weights+fp32");
});

await step("mobilenetv2 -> .mlpackage.zip palettized (--palettize 6:uniform) equals the CLI; fidelity shown", async () => {
  await convertAndCompare(mnv2, { to: "coreml", weights: "palettize", bits: "6", mode: "uniform" }, ["--to", "coreml", "--palettize", "6:uniform"], "mobilenetv2.mlpackage.zip");
  await fidelityTable("palettize6-uniform+coreml-fp16");
});

// ---- the simulator and share links --------------------------------------------------------------

/** The CLI's simulation report for the same options. */
function cliReport(model, profiles, precision, budget) {
  const args = ["simulate", model, "--profile", profiles.join(","), "--precision", precision, "--json"];
  if (budget) args.push("--budget", budget);
  return JSON.parse(execFileSync(cli, args, { encoding: "utf8", maxBuffer: 256 << 20 }));
}

/** The page's rounding of a latency (web/src/app/format.rs `ms`). */
function fmtMs(v) {
  if (v < 1) return `${v.toFixed(3)} ms`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  return `${Math.round(v).toLocaleString("en-US")} ms`;
}

const on = (p) => (id) => p.locator(`[data-testid="${id}"]`);
const reportIn = async (p) => JSON.parse(await on(p)("sim-json").textContent());
const withoutPlacement = (r) => r.results.map((x) => ({ ...x, placement: [] }));

/** Ticks exactly `profiles`, sets precision and budget, simulates and waits for the report. */
async function simulate(profiles, precision, budget = "") {
  const boxes = page.locator('[data-testid^="sim-profile-"]');
  await boxes.first().waitFor(T);
  for (const box of await boxes.all()) {
    const id = (await box.getAttribute("data-testid")).slice("sim-profile-".length);
    await (profiles === "all" || profiles.includes(id) ? box.check() : box.uncheck());
  }
  await $("sim-precision").selectOption(precision);
  await $("sim-budget").selectOption(budget);
  const runs = Number(await $("sim-results").getAttribute("data-runs"));
  await $("simulate-button").click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="sim-results"]')?.dataset.runs) > n, runs, T);
  await assertNoError();
  return reportIn(page);
}

async function shareLink() {
  await $("share-button").click();
  const link = await $("share-link").inputValue();
  assert.ok(link.startsWith(`${url}#r=`), link.slice(0, 80));
  return link;
}

const simProfiles = ["iphone15pro", "pixel8", "rpi5"];
let simulated = null;
let sharedLink = "";
let sharedTflite = "";

await step("simulate panel: mobilenetv2 on 3 devices equals the CLI's report, one bar per result", async () => {
  await upload("mobilenetv2.onnx", fs.readFileSync(mnv2));
  await summaryReady();
  for (const [precision, budget] of [["int8", ""], ["fp16", "camera"], ["fp32", "camera"]]) {
    const mine = await simulate(simProfiles, precision, budget);
    const want = cliReport(mnv2, simProfiles, precision, budget);
    assert.deepEqual(mine.results, want.results, `results (${precision}, ${budget || "no budget"})`);
    assert.deepEqual(mine.best, want.best, "best per device");
    assert.deepEqual(mine.skipped, want.skipped, "skipped");
    assert.deepEqual(mine.model, want.model, "model");
    assert.deepEqual([mine.options.profiles, mine.options.precision, mine.options.budget], [want.options.profiles, want.options.precision, want.options.budget]);
    const bars = page.locator('[data-testid="sim-chart"] [data-testid="sim-bar"]');
    assert.equal(await bars.count(), want.results.length, "one bar per (profile, unit)");
    for (const r of want.results) {
      const bar = page.locator(`[data-testid="sim-bar"][data-profile="${r.profile}"][data-unit="${r.unit}"]`);
      assert.equal(Number(await bar.getAttribute("data-latency")), r.latency_ms, `bar ${r.profile}/${r.unit}`);
      const shown = await page.locator(`[data-testid="sim-row-${r.profile}-${r.unit}"] [data-testid="sim-latency"]`).innerText();
      assert.equal(shown, fmtMs(r.latency_ms), `row ${r.profile}/${r.unit}`);
    }
    assert.equal(await $("sim-budget-line").count(), budget ? 1 : 0, "budget line only with a budget");
    for (const b of want.best) {
      assert.equal(await page.locator(`[data-testid="sim-best"] li[data-profile="${b.profile}"][data-unit="${b.unit}"]`).count(), 1, `best ${b.profile}`);
    }
    simulated = mine;
  }
  await $("simulate-panel").scrollIntoViewIfNeeded();
  await $("simulate-panel").screenshot({ path: path.join(shots, "simulate-panel.png") });
});

await step("placement table: select a row by click and by keyboard, slowest first, sortable", async () => {
  await $("sim-row-pixel8-npu").click();
  const table = $("placement-table");
  assert.equal(await table.getAttribute("data-profile"), "pixel8");
  const want = simulated.results.find((r) => r.profile === "pixel8" && r.unit === "npu");
  assert.equal(Number(await table.getAttribute("data-rows")), want.placement.length);
  const times = async () => (await table.locator("tbody tr td:nth-child(4)").allInnerTexts()).map((t) => parseFloat(t.replace(/,/g, "")));
  const desc = await times();
  assert.deepEqual(desc, [...desc].sort((a, b) => b - a), "slowest first");
  await $("placement-sort").click();
  const asc = await times();
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b), "fastest first after sorting");
  await $("sim-row-rpi5-cpu").focus();
  await page.keyboard.press("Enter");
  assert.equal(await table.getAttribute("data-profile"), "rpi5", "Enter selects a row");
});

let sharedMeasured = [];

await step("share link: made after a conversion, a simulation and a measurement, under 8 KB", async () => {
  const got = await convertAndCompare(mnv2, { to: "tflite" }, ["--to", "tflite"], "mobilenetv2.tflite");
  sharedTflite = sha256(got);
  simulated = await simulate(simProfiles, "fp32", "camera");
  sharedMeasured = await measure(3);
  sharedLink = await shareLink();
  assert.ok(sharedLink.length < 8192, `${sharedLink.length}`);
  const report = JSON.parse(zlib.inflateRawSync(Buffer.from(sharedLink.split("#r=")[1], "base64url")).toString("utf8"));
  assert.equal(report.schema, "edgeport.report/1");
  const cpu = report.measured.find((m) => m.backend === "cpu");
  assert.deepEqual(cpu.variants.map((v) => [v.variant, v.p50_ms]), sharedMeasured.map((r) => [r.variant, r.p50]));
  assert.match(cpu.environment.user_agent, /Chrome/);
  assert.equal(cpu.environment.runtime, "wasm");
  const fp16 = report.fidelity.find((f) => f.variant === "fp16");
  assert.equal(fp16.outputs[0].max_abs_error, sharedMeasured[1].maxAbsError, "fidelity is the panel's");
});

await step("share link: mobilenetv2 on every profile stays under 8192 characters", async () => {
  const all = await simulate("all", "fp32", "");
  assert.ok(all.results.length > 40, `${all.results.length} results`);
  const link = await shareLink();
  console.log(`        share link, mobilenetv2 on all ${all.results.length} (profile, unit) results: ${link.length} characters`);
  assert.ok(link.length < 8192, `link is ${link.length} characters`);
});

// A second browser context: a fresh page that has never seen the model.
const freshDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgeport-chromium-"));
const fresh = await chromium.launchPersistentContext(freshDir, {
  executablePath: chromiumPath,
  headless: true,
  viewport: { width: 1366, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
await fresh.addInitScript(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
});
const other = fresh.pages()[0] ?? (await fresh.newPage());
watch(other, "shared page");
const $o = on(other);
const openLink = async (link) => {
  await other.goto("about:blank");
  await other.goto(link, { waitUntil: "load" });
  await other.locator('main[data-engine="ready"]').waitFor(T);
};
const uploadTo = (p, name, buffer) => on(p)("file-input").setInputFiles({ name, mimeType: "application/octet-stream", buffer });

await step("share link opens in a fresh context: banner, artifact and the same results without the model", async () => {
  await openLink(sharedLink);
  const banner = $o("report-banner");
  assert.equal(await banner.getAttribute("data-state"), "shared");
  const text = await banner.innerText();
  assert.match(text, /Shared report: mobilenetv2\.onnx/);
  assert.ok(text.includes(simulated.model.sha256.slice(0, 16)), text);
  assert.match(text, /edgeport \d+\.\d+\.\d+/);
  assert.equal(await $o("shared-artifact").getAttribute("data-sha256"), sharedTflite);
  const shown = await reportIn(other);
  assert.deepEqual(shown.results, withoutPlacement(simulated), "recorded results");
  assert.deepEqual(shown.best, simulated.best);
  assert.equal(await other.locator('[data-testid="sim-bar"]').count(), simulated.results.length);
  assert.equal(await $o("sim-budget-line").count(), 1);
  assert.equal(await $o("summary").getAttribute("data-ready"), "false", "no model in the fresh page");
  const recorded = await other.$$eval('[data-testid="shared-measured-row"]', (rows) =>
    rows.map((r) => [r.dataset.variant, Number(r.dataset.recordedP50), r.dataset.hereP50]),
  );
  assert.deepEqual(recorded, sharedMeasured.map((r) => [r.variant, r.p50, ""]), "recorded measurements");
  assert.match(await $o("shared-measured-env").innerText(), /wasm, 1 thread.*Chrome/);
  await other.screenshot({ path: path.join(shots, "shared-link.png"), fullPage: true });
});

await step("share link + the same model: conversion byte-identical, simulation identical", async () => {
  await uploadTo(other, "mobilenetv2.onnx", fs.readFileSync(mnv2));
  await other.locator('[data-testid="share-check-simulation"][data-state="identical"]').waitFor(T);
  assert.equal(await $o("share-check-conversion").getAttribute("data-state"), "identical");
  assert.match(await $o("share-check-conversion").innerText(), /byte-identical/);
  assert.equal(await $o("error").count(), 0);
  assert.equal(await $o("sha256").innerText(), sharedTflite, "the redone conversion's sha256");
  const rerun = await reportIn(other);
  assert.deepEqual(withoutPlacement(rerun), withoutPlacement(simulated));
  assert.ok(Number(await $o("placement-table").getAttribute("data-rows")) > 0, "placement recomputed");
  await other.locator('[data-testid="share-check-measurement"][data-state="remeasured"]').waitFor({ timeout: 180_000 });
  const rows = await other.$$eval('[data-testid="shared-measured-row"]', (rows) =>
    rows.map((r) => [r.dataset.variant, Number(r.dataset.recordedP50), Number(r.dataset.hereP50)]),
  );
  assert.deepEqual(rows.map((r) => [r[0], r[1]]), sharedMeasured.map((r) => [r.variant, r.p50]), "recorded figures kept");
  assert.ok(rows.every((r) => r[2] > 0), `re-measured here: ${JSON.stringify(rows)}`);
  await $o("report-banner").screenshot({ path: path.join(shots, "shared-link-verified.png") });
});

await step("a link made by the CLI (convert --link) opens as the same report", async () => {
  const out = path.join(work, "from-cli.tflite");
  const res = spawnSync(cli, ["convert", mnv2, "--to", "tflite", "-o", out, "--link"], { encoding: "utf8" });
  assert.equal(res.status, 0, res.stderr);
  const fragment = res.stderr.trim().split("\n").pop();
  assert.ok(fragment.startsWith("#r="), fragment);
  await openLink(`${url}${fragment}`);
  assert.equal(await $o("report-banner").getAttribute("data-state"), "shared");
  assert.equal(await $o("shared-artifact").getAttribute("data-sha256"), sharedTflite);
  assert.match(await $o("report-banner").innerText(), /Shared report: model\.onnx/);
});

await step("share link + a different model: refused, naming both hashes", async () => {
  const bytes = fs.readFileSync(fixture("mlp_gelu"));
  await uploadTo(other, "mlp_gelu.onnx", bytes);
  await $o("error").waitFor(T);
  assert.equal(await $o("error").getAttribute("data-code"), "model_mismatch");
  const text = await $o("error").innerText();
  assert.ok(text.includes(sha256(bytes)) && text.includes(simulated.model.sha256), text);
  assert.equal(await $o("summary").getAttribute("data-ready"), "false");
});

for (const [what, link] of [
  ["malformed", () => `${url}#r=this-is-not*a%20share-link`],
  ["truncated", () => sharedLink.slice(0, sharedLink.length - 37)],
]) {
  await step(`${what} share link: the damaged-link message, and the app still works`, async () => {
    await openLink(link());
    const banner = $o("report-banner");
    assert.equal(await banner.getAttribute("data-state"), "damaged");
    assert.match(await banner.innerText(), /this share link is damaged: /i);
    if (what === "truncated") await banner.screenshot({ path: path.join(shots, "shared-link-damaged.png") });
    await uploadTo(other, "mlp_gelu.onnx", fs.readFileSync(fixture("mlp_gelu")));
    await other.locator('[data-testid="summary"][data-ready="true"]').waitFor(T);
    assert.equal(await $o("error").count(), 0);
  });
}

await step("share link from another edgeport version: said clearly, report still shown", async () => {
  const [base, payload] = sharedLink.split("#r=");
  const record = JSON.parse(zlib.inflateRawSync(Buffer.from(payload, "base64url")).toString("utf8"));
  record.edgeport_version = "0.0.0-older";
  await openLink(`${base}#r=${zlib.deflateRawSync(Buffer.from(JSON.stringify(record))).toString("base64url")}`);
  assert.equal(await $o("report-banner").getAttribute("data-state"), "shared");
  assert.match(await $o("shared-version-note").innerText(), /made by edgeport 0\.0\.0-older/);
  assert.deepEqual((await reportIn(other)).results, withoutPlacement(simulated));
});

await step("WebGPU without an adapter (this browser lacks --enable-unsafe-webgpu): the panel says so and measures on the CPU", async () => {
  await other.goto(url, { waitUntil: "load" });
  await other.locator('main[data-engine="ready"]').waitFor(T);
  await uploadTo(other, "mlp_gelu.onnx", fs.readFileSync(fixture("mlp_gelu")));
  await other.locator('[data-testid="summary"][data-ready="true"]').waitFor(T);
  await $o("measure-backend").selectOption("gpu");
  if (await $o("measure-variant-fp16").isChecked()) await $o("measure-variant-fp16").click();
  await $o("measure-runs").fill("2");
  await $o("measure-runs").dispatchEvent("change");
  await $o("measure-button").click();
  await other.locator('[data-testid="measure-results"][data-ready="true"]').waitFor({ timeout: 180_000 });
  assert.match(await $o("measure-fallback").innerText(), /WebGPU could not run this here .*measured on the CPU/);
  assert.equal(await $o("measure-env").getAttribute("data-backend"), "cpu");
  assert.equal(await $o("error").count(), 0);
});

await step("shared page: no console errors and no CSP violations", async () => {
  assert.deepEqual(await other.evaluate(() => window.__csp ?? []), [], "CSP violations");
});
await fresh.close();
fs.rmSync(freshDir, { recursive: true, force: true });

// ---- WebGPU ------------------------------------------------------------------------------------

/** The PP-OCR models (tests/fixtures/ppocr.py), when the test command could fetch them. */
function ppocrModels() {
  const file = process.env.EDGEPORT_PPOCR;
  if (!file || !fs.existsSync(file)) return [];
  const summary = JSON.parse(fs.readFileSync(file, "utf8"));
  return Object.entries(summary).map(([key, info]) => ({ name: `ppocr_${key}`, file: info.model, shapes: info.input_shape_arg }));
}

await step("WebGPU (SwiftShader): every fixture and PP-OCR model runs on the GPU and matches the CPU within 1e-3", async () => {
  const models = [
    ...["mlp_gelu", "resnet", "mobilenetv2", "transformer", "ops_misc"].map((name) => ({ name, file: fixture(name), shapes: null })),
    ...ppocrModels(),
  ];
  const seen = [];
  for (const m of models) {
    await upload(`${m.name}.onnx`, fs.readFileSync(m.file));
    if (m.shapes) {
      // PP-OCR models have open dimensions: the page asks for shapes, given as the CLI's are.
      await page.locator('[data-testid="error"], [data-testid="summary"][data-ready="true"]').first().waitFor(T);
      await $("opt-input-shapes").fill(m.shapes);
      await $("apply-shapes").click();
      const dims = `[${m.shapes.split("=")[1].split(",").join(", ")}]`;
      await page.waitForFunction((d) => document.querySelector('[data-testid="summary"][data-ready="true"]')?.innerText.includes(d), dims, T);
    }
    await summaryReady();
    const [row] = await measure(2, ["fp32"], "gpu");
    assert.equal(await $("measure-fallback").count(), 0, `${m.name}: fell back to the CPU: ${await $("measure-fallback").allInnerTexts()}`);
    assert.equal(await $("measure-env").getAttribute("data-backend"), "gpu", m.name);
    const tol = 1e-3 * Math.max(1, row.referenceMaxAbs);
    assert.ok(row.p50 > 0 && row.maxAbsError <= tol, `${m.name}: max |gpu - cpu| ${row.maxAbsError} > ${tol}`);
    seen.push(`${m.name} ${row.maxAbsError.toExponential(2)}`);
  }
  console.log(`        max |gpu - cpu|: ${seen.join(", ")}`);
  assert.ok(seen.length >= 5);
  const adapter = await $("measure-adapter").innerText();
  assert.match(adapter, /google|swiftshader/i, adapter);
  assert.equal(await $("measure-adapter").getAttribute("data-fallback"), "true", "SwiftShader is a fallback adapter");
  assert.match(await $("measure-env").getAttribute("data-timing"), /^(gpu-timestamp|wall)$/);
  assert.ok((await $("measure-table").innerText()).includes("pipelines"));
  await $("measure-panel").screenshot({ path: path.join(shots, "measure-webgpu.png") });
  // the WebGPU measurement travels in a share link, adapter and all
  const link = await shareLink();
  const report = JSON.parse(zlib.inflateRawSync(Buffer.from(link.split("#r=")[1], "base64url")).toString("utf8"));
  const gpu = report.measured.find((m) => m.backend === "gpu");
  assert.ok(gpu && gpu.variants[0].p50_ms > 0, JSON.stringify(report.measured));
  assert.equal(gpu.environment.adapter.architecture, "swiftshader");
  assert.equal(gpu.environment.adapter.fallback, true);
  await assertNoError();
});

await step("privacy: no request carries the model; only the page's files and the sample", async () => {
  assert.ok(initialRequests > 0, "the initial load was recorded");
  for (const r of requests) {
    if (r.url.startsWith("blob:") || r.url.startsWith("data:")) continue;
    assert.equal(new URL(r.url).origin, origin, `request to another origin: ${r.url}`);
    assert.equal(r.method, "GET", `${r.method} ${r.url}`);
    assert.ok(!r.body || r.body.length === 0, `request with a body: ${r.url}`);
  }
  const later = requests.slice(initialRequests).filter((r) => !r.url.startsWith("blob:") && !r.url.startsWith("data:"));
  const unexpected = later.filter((r) => !new URL(r.url).pathname.startsWith("/sample/") && !isPageFile(r.url));
  assert.deepEqual(unexpected.map((r) => r.url), [], "requests after the initial load");
  // Fresh workers (after cancel) load the worker's own files again from this origin: allowed,
  // they carry nothing. Anything else after the initial load is the sample, once.
  assert.equal(later.filter((r) => new URL(r.url).pathname.startsWith("/sample/")).length, 1);
  void requestsBeforeBad;
});

function isPageFile(u) {
  const p = new URL(u).pathname;
  // the conversion worker (again after a cancel) and the runtime worker (on the first measurement)
  return /^\/playground-(worker|runtime)(_loader\.js|\.js|_bg\.wasm)$/.test(p);
}

await step("no console errors and no CSP violations", async () => {
  const csp = await page.evaluate(() => window.__csp ?? []);
  assert.deepEqual(csp, [], "CSP violations");
  assert.deepEqual(consoleErrors, [], "console errors");
});

await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
fs.rmSync(work, { recursive: true, force: true });

const failed = results.filter((r) => !r.ok);
console.log(`\nbrowser e2e: ${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${shots}`);
console.log(`requests: ${initialRequests} during the initial load, ${requests.length - initialRequests} after (sample: ${sampleRequests.length})`);
process.exit(failed.length ? 1 : 0);
