//! The playground's Web Worker: runs the engine off the page's thread so the page never freezes,
//! and streams conversion stages back as they start. [`handle`] is plain Rust (tested natively);
//! [`run`] is the wasm glue the `playground-worker` binary calls.

use crate::protocol::{Converted, ErrorInfo, Reply, Request, StageName, Summary};
use crate::sim_report::{profiles_from_engine, report_from_engine};

/// Answers one request; `post` receives every reply (stages first, then one final reply), with
/// the artifact's bytes beside `Converted`.
pub fn handle(req: &Request, model: &[u8], post: &mut dyn FnMut(Reply, Option<Vec<u8>>)) {
    let id = req.id();
    if let Request::Profiles { .. } = req {
        let listed = edgeport_engine::simulate::list_profiles().map_err(|e| ErrorInfo::from(&e));
        match listed.and_then(|l| profiles_from_engine(&l).map_err(|e| ErrorInfo::new("internal", e))) {
            Ok(profiles) => post(Reply::Profiles { id, profiles }, None),
            Err(error) => post(Reply::Failed { id, error }, None),
        }
        return;
    }
    if model.is_empty() {
        let error = ErrorInfo::new("invalid_model", "the file is empty (0 bytes)");
        post(Reply::Failed { id, error }, None);
        return;
    }
    let options = match req {
        Request::Inspect { options, .. } | Request::Convert { options, .. } | Request::Simulate { options, .. } => {
            options.to_engine()
        }
        Request::Profiles { .. } => return,
    };
    let options = match options {
        Ok(o) => o,
        Err(e) => return post(Reply::Failed { id, error: ErrorInfo::from(&e) }, None),
    };
    match req {
        Request::Inspect { .. } => match edgeport_engine::inspect(model, &options) {
            Ok(report) => post(Reply::Summary { id, summary: Summary::from(&report) }, None),
            Err(e) => post(Reply::Failed { id, error: ErrorInfo::from(&e) }, None),
        },
        Request::Convert { .. } => {
            let converted = edgeport_engine::convert(model, &options, &mut |stage| {
                post(Reply::Stage { id, stage: stage.into() }, None);
            });
            let artifact = match converted {
                Ok(a) => a,
                Err(e) => return post(Reply::Failed { id, error: ErrorInfo::from(&e) }, None),
            };
            post(Reply::Stage { id, stage: StageName::Verify }, None);
            match edgeport_engine::verify(options.target, &artifact.bytes) {
                Ok(v) => {
                    let result = Converted {
                        media_type: artifact.media_type.clone(),
                        size: artifact.bytes.len(),
                        sha256: edgeport_engine::sha256_hex(&artifact.bytes),
                        verified: v.summary,
                    };
                    post(Reply::Converted { id, result }, Some(artifact.bytes));
                }
                Err(e) => post(Reply::Failed { id, error: ErrorInfo::from(&e) }, None),
            }
        }
        Request::Simulate { simulate, .. } => {
            let report = simulate
                .to_engine()
                .and_then(|s| edgeport_engine::simulate::simulate(model, &options, &s))
                .map_err(|e| ErrorInfo::from(&e))
                .and_then(|r| report_from_engine(&r).map_err(|e| ErrorInfo::new("internal", e)));
            match report {
                Ok(report) => post(Reply::Simulated { id, report: Box::new(report) }, None),
                Err(error) => post(Reply::Failed { id, error }, None),
            }
        }
        Request::Profiles { .. } => {}
    }
}

/// Installs the message handler on the worker's global scope and announces readiness.
#[cfg(target_arch = "wasm32")]
pub fn run() {
    use js_sys::{Array, Object, Reflect, Uint8Array};
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    console_error_panic_hook::set_once();
    let Ok(scope) = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>() else {
        web_sys::console::error_1(&"playground-worker: not running in a dedicated worker".into());
        return;
    };
    let post_scope = scope.clone();
    let post = move |reply: Reply, bytes: Option<Vec<u8>>| {
        let msg = Object::new();
        let json = serde_json::to_string(&reply).unwrap_or_default();
        let _ = Reflect::set(&msg, &"json".into(), &json.into());
        let transfer = Array::new();
        if let Some(bytes) = bytes {
            let arr = Uint8Array::from(bytes.as_slice());
            transfer.push(&arr.buffer());
            let _ = Reflect::set(&msg, &"bytes".into(), &arr);
        }
        // Transfer, not copy: the artifact may be tens of megabytes.
        let _ = post_scope.post_message_with_transfer(&msg, &transfer);
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let data = ev.data();
        let json = Reflect::get(&data, &"json".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
        let Ok(req) = serde_json::from_str::<Request>(&json) else {
            web_sys::console::error_1(&"playground-worker: malformed request".into());
            return;
        };
        let model = Reflect::get(&data, &"bytes".into())
            .ok()
            .and_then(|b| b.dyn_into::<Uint8Array>().ok())
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let mut post = post.clone();
        handle(&req, &model, &mut post);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    let ready = Reply::Ready { version: env!("CARGO_PKG_VERSION").to_string() };
    let msg = Object::new();
    let _ = Reflect::set(&msg, &"json".into(), &serde_json::to_string(&ready).unwrap_or_default().into());
    let _ = scope.post_message(&msg);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::protocol::Options;
    use edgeport_engine::ConvertOptions;

    fn run(req: Request, model: &[u8]) -> Vec<(Reply, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        handle(&req, model, &mut |r, b| out.push((r, b)));
        out
    }

    #[test]
    fn bad_bytes_fail_in_one_reply() {
        for bytes in [&b""[..], b"\x89PNG\r\n\x1a\nnot a model"] {
            let out = run(Request::Inspect { id: 7, options: Options::default() }, bytes);
            assert_eq!(out.len(), 1);
            assert!(matches!(&out[0].0, Reply::Failed { id: 7, error } if !error.message.is_empty()), "{out:?}");
        }
    }

    #[test]
    fn profiles_and_simulation_answer() {
        let out = run(Request::Profiles { id: 2 }, &[]);
        assert!(matches!(&out[0].0, Reply::Profiles { id: 2, profiles } if profiles.len() > 5), "{out:?}");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mlp_gelu/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        let simulate = crate::sim_report::SimOptions { profiles: vec!["pixel8".into()], ..Default::default() };
        let out = run(Request::Simulate { id: 3, options: Options::default(), simulate }, &model);
        let (Reply::Simulated { id: 3, report }, None) = &out[0] else { panic!("{out:?}") };
        assert!(report.results.iter().all(|r| r.profile == "pixel8"));
    }

    #[test]
    fn convert_streams_stages_then_the_artifact() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mlp_gelu/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        let out = run(Request::Convert { id: 1, options: Options::default() }, &model);
        let stages: Vec<_> = out
            .iter()
            .filter_map(|(r, _)| match r {
                Reply::Stage { stage, .. } => Some(*stage),
                _ => None,
            })
            .collect();
        assert_eq!(stages, StageName::ALL.to_vec());
        let (Reply::Converted { result, .. }, Some(bytes)) = out.last().unwrap() else { panic!("{out:?}") };
        assert_eq!(result.size, bytes.len());
        let direct = edgeport_engine::convert(&model, &ConvertOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(bytes, &direct.bytes);
        assert_eq!(result.sha256, direct.sha256);
    }
}
