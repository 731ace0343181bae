// Runs the edgeport wasm module off the page's main thread.
// Messages in:  { id, op: "inspect" | "convert" | "version", bytes?: Uint8Array, options?: string }
// Messages out: { id, ok: true, result } or { id, ok: false, error: string (engine error JSON) }
import init, { inspect, convert, version } from "./pkg/edgeport_web.js";

const ready = init({ module_or_path: new URL("./pkg/edgeport_web_bg.wasm", import.meta.url) });

self.onmessage = async (event) => {
  const { id, op, bytes, options } = event.data;
  try {
    await ready;
    if (op === "version") {
      self.postMessage({ id, ok: true, result: version() });
    } else if (op === "inspect") {
      self.postMessage({ id, ok: true, result: inspect(bytes, options) });
    } else if (op === "convert") {
      const t0 = performance.now();
      const out = convert(bytes, options);
      const ms = performance.now() - t0;
      self.postMessage({ id, ok: true, result: { bytes: out, ms } }, [out.buffer]);
    } else {
      throw new Error(`unknown op ${op}`);
    }
  } catch (err) {
    self.postMessage({ id, ok: false, error: typeof err === "string" ? err : String(err?.message ?? err) });
  }
};
