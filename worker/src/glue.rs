//! The wasm side: the `worker` crate's `#[event(fetch)]` export, which the JS entry module
//! (`worker/js/entry.mjs`) calls for each request. It reads the request head, streams the body
//! into [`api::serve`] and turns the [`api::Reply`] into a `Response`, never failing: if even
//! building the response fails, it answers a bare 500.

use futures_util::StreamExt;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::web_sys;
use worker::{Context, Env, Request, event};

use crate::api::{self, Limits, Reply, RequestHead};

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<web_sys::Response> {
    let limits = Limits::from_binding(env.var("MAX_BODY_BYTES").ok().map(|v| v.to_string()).as_deref());
    let head = head_of(&req);
    let accept = req.headers().get("accept").ok().flatten();
    let accept = accept.as_deref();
    let reply = match req.stream() {
        Ok(stream) => {
            api::serve_accepting(&head, accept, stream.map(|chunk| chunk.map_err(|e| e.to_string())), &limits).await
        }
        // No body at all (a GET, or a POST without one): an empty stream.
        Err(_) => {
            let empty = futures_util::stream::empty::<Result<Vec<u8>, String>>();
            api::serve_accepting(&head, accept, empty, &limits).await
        }
    };
    respond(reply)
}

fn head_of(req: &Request) -> RequestHead {
    let raw = req.inner();
    let url = raw.url();
    let headers = req.headers();
    RequestHead {
        method: raw.method(),
        path: req.path(),
        query: query_of(&url).to_string(),
        content_type: headers.get("content-type").ok().flatten(),
        content_length: headers.get("content-length").ok().flatten(),
    }
}

/// The query of a serialized URL: after the first `?`, before any `#`.
fn query_of(url: &str) -> &str {
    let Some((_, rest)) = url.split_once('?') else { return "" };
    rest.split_once('#').map_or(rest, |(q, _)| q)
}

fn respond(reply: Reply) -> worker::Result<web_sys::Response> {
    match build(&reply) {
        Ok(r) => Ok(r),
        Err(e) => {
            let message = e.as_string().unwrap_or_else(|| "could not build the response".into());
            let fallback = Reply::error("internal", message);
            build(&fallback).map_err(|_| worker::Error::RustError("could not build the response".into()))
        }
    }
}

fn build(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    let body = Uint8Array::from(reply.body.as_slice());
    web_sys::Response::new_with_opt_buffer_source_and_init(Some(&body), &init)
}
