// onnxruntime-web peer of `cargo xtask bench cpu` (the wasm execution provider, one thread,
// SIMD) and `bench gpu` (the WebGPU execution provider, outputs read back to the CPU as
// session.run returns them); all graph optimizations; the same protocol as edgeport's harness
// (load, one cold run, warm-up, timed runs). Parameters in the query string (ep: wasm or
// webgpu); the result lands in window.__result.
const q = new URLSearchParams(location.search);
const ep = q.get("ep") === "webgpu" ? "webgpu" : "wasm";
const ort = await import(ep === "webgpu" ? "./ort/ort.webgpu.min.mjs" : "./ort/ort.wasm.min.mjs");

const inputs = JSON.parse(q.get("inputs"));
const runs = Number(q.get("runs"));
const warmup = Number(q.get("warmup"));

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;

try {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(q.get("model"), {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
  });
  const loadMs = performance.now() - t0;
  let state = 0x9e3779b9;
  const feeds = {};
  for (const { name, shape } of inputs) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      data[i] = state / 4294967296;
    }
    feeds[name] = new ort.Tensor("float32", data, shape);
  }
  let t = performance.now();
  await session.run(feeds);
  const firstRunMs = performance.now() - t;
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const samples = [];
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    await session.run(feeds);
    samples.push(performance.now() - t);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = 0.5 * (sorted.length - 1);
  const p50 = sorted[Math.floor(pos)] + (sorted[Math.ceil(pos)] - sorted[Math.floor(pos)]) * (pos - Math.floor(pos));
  window.__result = { peer: `onnxruntime-web ${ort.env.versions.web} (${ep})`, load_ms: loadMs, first_run_ms: firstRunMs, p50_ms: p50, runs };
} catch (e) {
  window.__result = { error: String(e && e.message ? e.message : e) };
}
document.getElementById("status").textContent = "done";
