//! The page's side of the Web Worker: spawn, send, receive, and terminate.
//!
//! Hand-written over web-sys rather than gloo-worker: cancelling a conversion must stop the
//! engine mid-call, which only `Worker.terminate()` can do, and gloo-worker does not expose it.
//! Requests sent before the worker's wasm has loaded wait in a queue until it says `Ready`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};
use yew::Callback;

use crate::protocol::{Reply, Request};

/// trunk's loader for the `playground-worker` binary (`data-loader-shim` in static/index.html).
pub const WORKER_URL: &str = "./playground-worker_loader.js";
/// The runtime worker's loader (`playground-runtime`), started when a measurement is asked for.
pub const RUNTIME_WORKER_URL: &str = "./playground-runtime_loader.js";

/// A reply, with the bytes that came beside it.
pub struct Incoming {
    pub reply: Reply,
    pub bytes: Option<Uint8Array>,
}

type Queue = Rc<RefCell<Option<Vec<Object>>>>;

pub struct EngineBridge {
    worker: Worker,
    /// `Some` until the worker is ready; then messages go straight through.
    queue: Queue,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl EngineBridge {
    /// Starts a worker; `on_reply` gets every reply, `on_crash` a message if the worker dies
    /// (a failed load, or a trap in the engine).
    pub fn spawn(url: &str, on_reply: Callback<Incoming>, on_crash: Callback<String>) -> Result<EngineBridge, String> {
        let worker = Worker::new(url).map_err(|e| format!("could not start the worker: {e:?}"))?;
        let queue: Queue = Rc::new(RefCell::new(Some(Vec::new())));

        let (q, w) = (Rc::clone(&queue), worker.clone());
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let data = ev.data();
            let json = Reflect::get(&data, &"json".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
            let Ok(reply) = serde_json::from_str::<Reply>(&json) else {
                on_crash_log(&json);
                return;
            };
            if matches!(reply, Reply::Ready { .. }) {
                for msg in q.borrow_mut().take().unwrap_or_default() {
                    let _ = w.post_message(&msg);
                }
            }
            let bytes = Reflect::get(&data, &"bytes".into()).ok().and_then(|b| b.dyn_into::<Uint8Array>().ok());
            on_reply.emit(Incoming { reply, bytes });
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
            ev.prevent_default();
            let what = ev.message();
            on_crash.emit(if what.is_empty() { "the worker stopped unexpectedly".to_string() } else { what });
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Ok(EngineBridge { worker, queue, _on_message: on_message, _on_error: on_error })
    }

    /// Sends a request with the model bytes (copied: the page keeps its copy for the next run).
    pub fn send(&self, req: &Request, model: &Uint8Array) {
        self.send_with(req, model, None);
    }

    /// [`send`](Self::send) with the user's calibration data beside the model.
    pub fn send_with(&self, req: &Request, model: &Uint8Array, calibration: Option<&Uint8Array>) {
        let msg = Object::new();
        let json = serde_json::to_string(req).unwrap_or_default();
        let _ = Reflect::set(&msg, &"json".into(), &json.into());
        let _ = Reflect::set(&msg, &"bytes".into(), model);
        if let Some(c) = calibration {
            let _ = Reflect::set(&msg, &"calibration".into(), c);
        }
        match self.queue.borrow_mut().as_mut() {
            Some(waiting) => waiting.push(msg),
            None => {
                let _ = self.worker.post_message(&msg);
            }
        }
    }
}

impl Drop for EngineBridge {
    /// Stops the worker at once, whatever it is doing.
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

fn on_crash_log(json: &str) {
    web_sys::console::warn_1(&format!("playground: unreadable message from the worker: {json:.200}").into());
}
