// The worker's entry module, in the module-worker shape workerd and Cloudflare Workers expect:
// a default export with a `fetch(request, env, ctx)` method.
//
// `cargo xtask worker` bundles this file with the wasm-bindgen glue (`--target web`) into
// worker/dist/entry.mjs; the wasm itself stays a separate module, which workerd hands us already
// compiled (a WebAssembly.Module), so instantiation is synchronous and happens once per isolate.
//
// The Rust side never panics on input, but if it ever traps (a Rust panic aborts the wasm
// instance), the request gets a JSON 500 and the next request runs on a fresh instance:
// wasm-bindgen's reset machinery (`--experimental-reset-state-function`) re-instantiates the
// module. Requests that were waiting on the dead instance are answered with a 500 too, so none is
// left hanging.

import wasmModule from "./edgeport_worker_bg.wasm";
import { initSync, fetch as rustFetch, __wbg_reset_state } from "./edgeport_worker.js";

initSync({ module: wasmModule });

let poisoned = false;
const waiting = new Set();

function internalError(message) {
  const body = JSON.stringify({ code: "internal", message: `edgeport worker: ${message}` });
  return new Response(body, { status: 500, headers: { "content-type": "application/json" } });
}

function describe(e) {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

// A trap outside the call stack of `fetch` (in a future polled later) surfaces here.
function onCritical(e) {
  if (!(e instanceof WebAssembly.RuntimeError)) return;
  poisoned = true;
  for (const fail of waiting) fail(e);
  waiting.clear();
}

addEventListener("error", (event) => onCritical(event.error));
addEventListener("unhandledrejection", (event) => onCritical(event.reason));

export default {
  async fetch(request, env, ctx) {
    if (poisoned) {
      poisoned = false;
      __wbg_reset_state();
    }
    let fail;
    const died = new Promise((_, reject) => {
      fail = reject;
    });
    waiting.add(fail);
    try {
      return await Promise.race([rustFetch(request, env, ctx), died]);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) poisoned = true;
      console.error("edgeport worker: request failed:", describe(e));
      return internalError(describe(e));
    } finally {
      waiting.delete(fail);
    }
  },
};
