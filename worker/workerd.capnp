# workerd configuration for the edgeport edge worker.
#
#   cargo xtask worker     # builds worker/dist/ and runs `workerd serve worker/workerd.capnp`
#
# Serves on http://127.0.0.1:8787 (loopback only). Tests pick a free port with
# `--socket-addr http=127.0.0.1:PORT`. The two modules are build outputs of `cargo xtask worker`:
# entry.mjs (worker/js/entry.mjs bundled with the wasm-bindgen glue) and the wasm.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "edgeport", worker = .edgeportWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "edgeport") ],
);

const edgeportWorker :Workerd.Worker = (
  modules = [
    (name = "entry.mjs", esModule = embed "dist/entry.mjs"),
    (name = "edgeport_worker_bg.wasm", wasm = embed "dist/edgeport_worker_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
    # Largest accepted request body in bytes (64 MiB); requests over it get 413.
    (name = "MAX_BODY_BYTES", text = "67108864"),
  ],
);
