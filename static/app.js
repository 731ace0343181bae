// The edgeport playground: reads an .onnx file locally, inspects and converts it with the wasm
// build of the engine (in a Web Worker), and offers the .tflite as a download. No network use
// beyond this page's own files.

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// the worker and a promise-based call into it

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const pending = new Map();
let nextId = 1;

class EngineError extends Error {
  constructor(json) {
    let parsed = null;
    try {
      parsed = JSON.parse(json);
    } catch {
      parsed = null;
    }
    const obj = parsed && typeof parsed === "object" ? parsed : { code: "error", message: String(json) };
    super(obj.message ?? String(json));
    this.code = obj.code ?? "error";
    this.nodes = Array.isArray(obj.nodes) ? obj.nodes : [];
  }
}

worker.onmessage = (event) => {
  const { id, ok, result, error } = event.data;
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  if (ok) p.resolve(result);
  else p.reject(new EngineError(error));
};

worker.onerror = (event) => {
  event.preventDefault();
  const err = new EngineError(JSON.stringify({
    code: "worker",
    message: `the WebAssembly worker failed to start${event.message ? `: ${event.message}` : ""}`,
  }));
  for (const p of pending.values()) p.reject(err);
  pending.clear();
  showError(err);
};

function call(op, payload = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, ...payload });
  });
}

// ---------------------------------------------------------------------------------------------
// formatting

const nf = new Intl.NumberFormat("en-US");

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function fmtCount(n) {
  if (typeof n !== "number") return String(n);
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G (${nf.format(n)})`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M (${nf.format(n)})`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k (${nf.format(n)})`;
  return nf.format(n);
}

function fmtShape(shape) {
  if (!Array.isArray(shape)) return shape == null ? "?" : String(shape);
  return `[${shape.map((d) => (d == null ? "?" : String(d))).join(", ")}]`;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function row(cells, numeric = []) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => {
    const td = el("td", null, numeric.includes(i) ? "num" : null);
    if (c instanceof Node) td.append(c);
    else td.textContent = c;
    tr.append(td);
  });
  return tr;
}

function kv(label, value) {
  const tr = document.createElement("tr");
  tr.append(el("th", label));
  const td = document.createElement("td");
  if (value instanceof Node) td.append(value);
  else td.textContent = value;
  tr.append(td);
  return tr;
}

// ---------------------------------------------------------------------------------------------
// status and errors

function setStatus(text, busy = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("busy", busy);
}

function clearError() {
  const box = $("error");
  box.replaceChildren();
  box.hidden = true;
}

function describeNode(n) {
  if (typeof n === "string") return n;
  if (n && typeof n === "object") {
    const head = [n.name, n.op ? `(${n.op})` : null].filter(Boolean).join(" ");
    const tail = n.message ?? n.reason ?? n.detail;
    if (head || tail) return [head, tail].filter(Boolean).join(": ");
  }
  return JSON.stringify(n);
}

function showError(err) {
  const box = $("error");
  box.replaceChildren();
  const p = document.createElement("p");
  p.append(el("strong", err.code ?? "error"), document.createTextNode(`: ${err.message}`));
  box.append(p);
  const nodes = err.nodes ?? [];
  if (nodes.length) {
    const ul = document.createElement("ul");
    nodes.slice(0, 50).forEach((n) => ul.append(el("li", describeNode(n))));
    if (nodes.length > 50) ul.append(el("li", `and ${nodes.length - 50} more`));
    box.append(ul);
  }
  box.hidden = false;
  setStatus("");
}

// ---------------------------------------------------------------------------------------------
// options

function parseShapes(text) {
  const shapes = {};
  for (const part of text.split(/[;\n]+/).map((s) => s.trim()).filter(Boolean)) {
    const m = part.match(/^([^=\s]+)\s*=\s*([\d\s,x×]+)$/);
    if (!m) {
      throw new EngineError(JSON.stringify({
        code: "invalid_options",
        message: `input shape "${part}" should look like name=1,3,224,224`,
      }));
    }
    const dims = m[2].split(/[\s,x×]+/).filter(Boolean).map(Number);
    if (!dims.length || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new EngineError(JSON.stringify({
        code: "invalid_options",
        message: `input shape "${part}": dims must be positive integers`,
      }));
    }
    shapes[m[1]] = dims;
  }
  return shapes;
}

function optionsJson() {
  return JSON.stringify({
    to: "tflite",
    nhwc_io: $("nhwc").checked,
    input_shapes: parseShapes($("shapes").value),
  });
}

// ---------------------------------------------------------------------------------------------
// the model and what we show about it

const state = { bytes: null, stem: "model", fileName: "", url: null, busy: false };

function renderSummary(report) {
  const facts = $("facts");
  facts.replaceChildren();
  const m = report.model ?? {};
  facts.append(kv("File", `${state.fileName} (${fmtBytes(state.bytes.byteLength)})`));
  if (m.producer) facts.append(kv("Producer", m.producer));
  if (m.ir_version != null) facts.append(kv("ONNX IR version", String(m.ir_version)));
  if (m.opsets && typeof m.opsets === "object") {
    const opsets = Object.entries(m.opsets).map(([d, v]) => `${d || "ai.onnx"} ${v}`).join(", ");
    facts.append(kv("Opsets", opsets));
  }
  if (report.params) {
    facts.append(kv("Parameters", fmtCount(report.params.count)));
    if (report.params.bytes != null) facts.append(kv("Weight bytes", fmtBytes(report.params.bytes)));
  }
  if (report.total?.macs != null) facts.append(kv("MACs", fmtCount(report.total.macs)));
  if (report.total?.flops != null) facts.append(kv("FLOPs", fmtCount(report.total.flops)));
  if (report.peak_activation_bytes != null) {
    facts.append(kv("Peak activations", fmtBytes(report.peak_activation_bytes)));
  }
  if (Array.isArray(report.nodes)) facts.append(kv("Nodes", nf.format(report.nodes.length)));

  const ops = $("ops");
  ops.replaceChildren();
  Object.entries(report.op_histogram ?? {})
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .forEach(([op, n]) => ops.append(row([op, nf.format(n)], [1])));

  for (const [id, list] of [["inputs", report.inputs], ["outputs", report.outputs]]) {
    const body = $(id);
    body.replaceChildren();
    (list ?? []).forEach((io) => body.append(row([el("code", io.name), io.dtype ?? "?", fmtShape(io.shape)])));
  }
  $("summary").hidden = false;
}

async function inspectModel() {
  const report = JSON.parse(await call("inspect", { bytes: state.bytes, options: optionsJson() }));
  renderSummary(report);
}

async function loadModel(bytes, fileName) {
  if (state.busy) return;
  state.bytes = new Uint8Array(bytes);
  state.fileName = fileName;
  state.stem = fileName.replace(/\.onnx$/i, "") || "model";
  $("model-name").textContent = `${fileName} · ${fmtBytes(state.bytes.byteLength)}`;
  $("model-name").hidden = false;
  $("result").hidden = true;
  $("summary").hidden = true;
  $("convert").disabled = false;
  clearError();
  await busy("Reading the model…", inspectModel);
}

async function busy(label, fn) {
  state.busy = true;
  $("convert").disabled = true;
  $("sample").disabled = true;
  setStatus(label, true);
  try {
    await fn();
    setStatus("");
  } catch (err) {
    showError(err instanceof EngineError ? err : new EngineError(JSON.stringify({ code: "error", message: String(err) })));
  } finally {
    state.busy = false;
    $("convert").disabled = !state.bytes;
    $("sample").disabled = !sample;
  }
}

async function convertModel() {
  if (!state.bytes || state.busy) return;
  clearError();
  $("result").hidden = true;
  await busy("Converting…", async () => {
    const options = optionsJson();
    await inspectModel();
    const { bytes, ms } = await call("convert", { bytes: state.bytes, options });
    const digest = hex(await crypto.subtle.digest("SHA-256", bytes));
    if (state.url) URL.revokeObjectURL(state.url);
    state.url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    const name = `${state.stem}.tflite`;
    const a = $("download");
    a.href = state.url;
    a.download = name;
    a.textContent = `Download ${name}`;
    $("out-size").textContent = `${fmtBytes(bytes.byteLength)} (${nf.format(bytes.byteLength)} bytes)`;
    $("out-sha").textContent = digest;
    $("out-time").textContent = `${(ms / 1000).toFixed(2)} s in WebAssembly`;
    $("result").hidden = false;
  });
}

// ---------------------------------------------------------------------------------------------
// wiring

let sample = null;

async function setupSample() {
  try {
    const res = await fetch("sample.json");
    if (!res.ok) throw new Error(`sample.json: HTTP ${res.status}`);
    sample = await res.json();
    $("sample-note").textContent = `${sample.name} (${fmtBytes(sample.bytes)}), a test fixture of this project`;
    $("sample").disabled = false;
  } catch {
    sample = null;
    $("sample").disabled = true;
    $("sample-note").textContent = "No sample model in this build.";
  }
}

$("sample").addEventListener("click", async () => {
  if (!sample || state.busy) return;
  clearError();
  try {
    setStatus("Loading the sample…", true);
    const res = await fetch(sample.file);
    if (!res.ok) throw new Error(`${sample.file}: HTTP ${res.status}`);
    await loadModel(await res.arrayBuffer(), `${sample.name}.onnx`);
  } catch (err) {
    showError(new EngineError(JSON.stringify({ code: "sample", message: String(err.message ?? err) })));
  }
});

$("file").addEventListener("change", async (e) => {
  const f = e.target.files?.[0];
  if (f) await loadModel(await f.arrayBuffer(), f.name);
  e.target.value = "";
});

const drop = $("drop");
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  drop.addEventListener(type, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files?.[0];
  if (f) await loadModel(await f.arrayBuffer(), f.name);
});
// A file dropped next to the zone must not make the browser navigate away from the page.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());

// A result made with other options is stale once an option changes.
$("nhwc").addEventListener("change", () => {
  $("result").hidden = true;
});
$("shapes").addEventListener("input", () => {
  $("result").hidden = true;
});

$("options").addEventListener("submit", (e) => {
  e.preventDefault();
  convertModel();
});

call("version").then((v) => {
  $("version").textContent = `edgeport ${v}`;
}, () => {});
setupSample();
