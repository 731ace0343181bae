// Converts ONNX models with the wasm build of edgeport (wasm-bindgen --target web output, run under
// node 20) and records the sha256 of every artifact and the inspect report. `cargo xtask test`
// then runs the native CLI on the same models with the same options and requires identical bytes
// and an identical report.
//
// Environment:
//   EDGEPORT_WASM_PKG   folder with edgeport_web.js and edgeport_web_bg.wasm
//                       (default: target/edgeport-web/pkg)
//   EDGEPORT_DET_OUT    write the results here as JSON (default: print them to stdout)
//   EDGEPORT_DET_EXTRA  JSON array of extra cases [{id, model, options}], e.g. the cached PP-OCR
//                       models with their fixed input shapes
//   EDGEPORT_DET_NHWC   fixture converted a second time with nhwc_io (default: mobilenetv2)
//
// Cases: every tests/fixtures/*/model.onnx with the CLI's default options ({"to":"tflite"}),
// as Core ML and as ONNX, full-integer int8 (TFLite and ONNX QDQ) and TFLite int8 weights
// (hybrid kernels), Core ML W8A8 and 50 % pruned Core ML of three fixtures, the
// NHWC-interface variant of one CNN, then the extra cases.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const pkgDir = path.resolve(process.env.EDGEPORT_WASM_PKG || path.join(repo, "target", "edgeport-web", "pkg"));
const outPath = process.env.EDGEPORT_DET_OUT || "";
const nhwcFixture = process.env.EDGEPORT_DET_NHWC || "mobilenetv2";
const int8Fixtures = ["mobilenetv2", "digits", "transformer"];

function defaults(extra = {}) {
  return { to: "tflite", nhwc_io: false, input_shapes: {}, ...extra };
}

function fixtureCases() {
  const dir = path.join(repo, "tests", "fixtures");
  const names = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((n) => fs.existsSync(path.join(dir, n, "model.onnx"))).sort()
    : [];
  const cases = names.map((n) => ({ id: n, model: path.join(dir, n, "model.onnx"), options: defaults() }));
  // Core ML: the engine's artifact is the .mlpackage.zip, compared with the CLI's zip output.
  for (const n of names) {
    cases.push({ id: `${n}+coreml`, model: path.join(dir, n, "model.onnx"), options: defaults({ to: "coreml" }) });
  }
  // ONNX export of every fixture; full-integer int8 (calibrated on generated samples: the CPU
  // runtime runs inside the conversion) as TFLite and as ONNX QDQ.
  for (const n of names) {
    cases.push({ id: `${n}+onnx`, model: path.join(dir, n, "model.onnx"), options: defaults({ to: "onnx" }) });
  }
  for (const n of names.filter((n) => int8Fixtures.includes(n))) {
    cases.push({ id: `${n}+int8`, model: path.join(dir, n, "model.onnx"), options: defaults({ quantize: "int8" }) });
    cases.push({ id: `${n}+int8-onnx`, model: path.join(dir, n, "model.onnx"), options: defaults({ to: "onnx", quantize: "int8" }) });
    cases.push({ id: `${n}+int8-weights`, model: path.join(dir, n, "model.onnx"), options: defaults({ quantize: "int8-weights" }) });
    cases.push({ id: `${n}+w8a8`, model: path.join(dir, n, "model.onnx"), options: defaults({ to: "coreml", coreml_target: "ios17", quantize: "w8a8" }) });
    cases.push({ id: `${n}+prune-coreml`, model: path.join(dir, n, "model.onnx"), options: defaults({ to: "coreml", prune: { sparsity: 0.5 } }) });
  }
  const cnn = names.includes(nhwcFixture) ? nhwcFixture : null;
  if (cnn) {
    cases.push({ id: `${cnn}+nhwc-io`, model: path.join(dir, cnn, "model.onnx"), options: defaults({ nhwc_io: true }) });
  } else {
    console.error(`note: fixture ${nhwcFixture} not found, no --nhwc-io case`);
  }
  return cases;
}

function extraCases() {
  const raw = process.env.EDGEPORT_DET_EXTRA;
  if (!raw) return [];
  const list = JSON.parse(raw);
  if (!Array.isArray(list)) throw new Error("EDGEPORT_DET_EXTRA must be a JSON array");
  return list.map((c) => ({ id: String(c.id), model: path.resolve(c.model), options: defaults(c.options) }));
}

function parseError(err) {
  const text = typeof err === "string" ? err : String(err?.message ?? err);
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object") return v;
  } catch {
    // not JSON: a JS-level failure (a panic, a trap); keep the text
  }
  return { code: "js_error", message: text, nodes: [] };
}

const jsPath = path.join(pkgDir, "edgeport_web.js");
const wasmPath = path.join(pkgDir, "edgeport_web_bg.wasm");
const edgeport = await import(pathToFileURL(jsPath).href);
edgeport.initSync({ module: fs.readFileSync(wasmPath) });

const cases = [...fixtureCases(), ...extraCases()];
const results = [];
for (const c of cases) {
  const model = fs.readFileSync(c.model);
  const t0 = performance.now();
  let result;
  try {
    const bytes = edgeport.convert(model, JSON.stringify(c.options));
    const sha256 = crypto.createHash("sha256").update(bytes).digest("hex");
    result = { ...c, sha256, bytes: bytes.length };
  } catch (err) {
    result = { ...c, sha256: null, bytes: 0, error: parseError(err) };
  }
  result.ms = Math.round(performance.now() - t0);
  // The inspect report must match `edgeport inspect --json` too (it does not depend on nhwc_io).
  if (!c.options.nhwc_io && c.options.to === "tflite") {
    try {
      result.inspect = JSON.parse(edgeport.inspect(model, JSON.stringify(c.options)));
    } catch (err) {
      result.inspect_error = parseError(err);
    }
  }
  results.push(result);
  const what = result.sha256 ? `${result.sha256} ${result.bytes} bytes` : `error ${result.error.code}: ${result.error.message}`;
  console.error(`wasm ${c.id.padEnd(28)} ${String(result.ms).padStart(6)} ms  ${what}`);
}

const json = JSON.stringify(results, null, 2) + "\n";
if (outPath) fs.writeFileSync(outPath, json);
else process.stdout.write(json);
