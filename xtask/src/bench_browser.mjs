// In-browser half of `cargo xtask bench cpu` and `bench gpu`: in one headless Chromium, the
// playground's "Measure in this browser" panel against onnxruntime-web on the same models,
// taking turns round by round. backend "wasm": edgeport's CPU runtime (wasm, one thread, SIMD)
// against ORT Web's wasm EP (one thread, SIMD); "webgpu": edgeport's GPU runtime (and its CPU
// runtime, for the GPU/CPU ratio) against ORT Web's WebGPU EP. Prints one JSON line per
// (model, round, tool).
//
//   EDGEPORT_URL       the served site (the playground and, under /ort-bench/, the peer page)
//   EDGEPORT_CHROMIUM  the browser;  EDGEPORT_NPM  the npm project holding playwright-core
//   EDGEPORT_BENCH     JSON: { models: [{ name, path, url, inputs }], rounds, runs, warmup, backend }

import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

const base = process.env.EDGEPORT_URL;
const bench = JSON.parse(process.env.EDGEPORT_BENCH);
const { chromium } = createRequire(path.join(process.env.EDGEPORT_NPM, "package.json"))("playwright-core");

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "edgeport-bench-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.EDGEPORT_CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-webgpu", "--no-first-run", "--disable-background-networking"],
});
const page = context.pages()[0] ?? (await context.newPage());
const $ = (id) => page.locator(`[data-testid="${id}"]`);
const T = { timeout: 300_000 };

async function edgeport(model, backend) {
  await page.goto(base);
  await page.locator('main[data-engine="ready"]').waitFor(T);
  await $("file-input").setInputFiles(model.path);
  await page.locator('[data-testid="summary"][data-ready="true"]').waitFor(T);
  await $("measure-backend").selectOption(backend);
  if (await $("measure-variant-fp16").isChecked()) await $("measure-variant-fp16").click();
  if (!(await $("measure-variant-fp32").isChecked())) await $("measure-variant-fp32").click();
  await $("measure-runs").fill(String(bench.runs));
  await $("measure-runs").dispatchEvent("change");
  await $("measure-button").click();
  await page.locator('[data-testid="measure-results"][data-ready="true"]').waitFor(T);
  if (backend === "gpu" && (await $("measure-fallback").count()) > 0) throw new Error(`edgeport fell back to the CPU on ${model.name}`);
  const row = $("measure-row").first();
  // wall time from submission to outputs read back: what ORT Web's session.run() takes too
  const wall = Number(await row.getAttribute("data-wall-p50"));
  return {
    peer: backend === "gpu" ? "edgeport (WebGPU)" : "edgeport (wasm)",
    p50_ms: wall > 0 ? wall : Number(await row.getAttribute("data-p50")),
    timing: await $("measure-env").getAttribute("data-timing"),
    adapter: backend === "gpu" ? await $("measure-adapter").innerText() : undefined,
  };
}

async function ort(model) {
  const ep = bench.backend === "webgpu" ? "webgpu" : "wasm";
  const q = new URLSearchParams({ model: model.url, inputs: JSON.stringify(model.inputs), runs: bench.runs, warmup: bench.warmup, ep });
  await page.goto(`${base}ort-bench/index.html?${q}`);
  await page.waitForFunction(() => window.__result !== undefined, null, T);
  const r = await page.evaluate(() => window.__result);
  if (r.error) throw new Error(`onnxruntime-web on ${model.name}: ${r.error}`);
  return r;
}

for (const model of bench.models) {
  for (let round = 0; round < bench.rounds; round++) {
    const tools = bench.backend === "webgpu"
      ? [["edgeport-gpu", () => edgeport(model, "gpu")], ["ort", () => ort(model)], ["edgeport", () => edgeport(model, "cpu")]]
      : [["edgeport", () => edgeport(model, "cpu")], ["ort", () => ort(model)]];
    for (const [tool, f] of tools) {
      const r = await f();
      console.log(JSON.stringify({ model: model.name, round, tool, ...r }));
    }
  }
}
await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
