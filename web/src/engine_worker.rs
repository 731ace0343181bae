//! The playground's Web Worker: runs the engine off the page's thread so the page never freezes,
//! and streams conversion stages back as they start. [`handle`] is plain Rust (tested natively);
//! [`run`] is the wasm glue the `playground-worker` binary calls.

#[cfg(feature = "runtime")]
use crate::protocol::{MeasureOptions, MeasuredVariant, Measurement};
use crate::protocol::{Converted, ErrorInfo, Reply, Request, StageName, Summary};
use crate::sim_report::{profiles_from_engine, report_from_engine};

/// What the worker's host provides for measurements.
pub struct Host {
    /// Monotonic milliseconds (`performance.now()` in the browser).
    pub clock: Box<dyn Fn() -> f64>,
    pub user_agent: String,
}

/// Answers one request; `post` receives every reply (stages first, then one final reply), with
/// the artifact's bytes beside `Converted`. `calibration` is the user's `.npz`/`.npy` for
/// `quantize int8` (generated samples when absent). Async for WebGPU measurements, whose results
/// come back through the browser's event loop; everything else completes at once.
pub async fn handle(
    req: &Request,
    model: &[u8],
    calibration: Option<&[u8]>,
    host: &Host,
    post: &mut dyn FnMut(Reply, Option<Vec<u8>>),
) {
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
        Request::Inspect { options, .. }
        | Request::Convert { options, .. }
        | Request::Simulate { options, .. }
        | Request::Measure { options, .. }
        | Request::Fidelity { options, .. } => options.to_engine(),
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
            let converted = read_calibration(model, &options, calibration).and_then(|calibration| {
                edgeport_engine::convert_calibrated(model, &options, calibration.as_ref(), &mut |stage| {
                    post(Reply::Stage { id, stage: stage.into() }, None);
                })
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
        #[cfg(feature = "runtime")]
        Request::Measure { measure, .. } => match measure_on_backend(model, &options.input_shapes, measure, host, id, post).await {
            Ok(result) => post(Reply::Measured { id, result: Box::new(result) }, None),
            Err(e) => post(Reply::Failed { id, error: ErrorInfo::from(&e) }, None),
        },
        #[cfg(feature = "runtime")]
        Request::Fidelity { .. } => match artifact_fidelity(model, &options, calibration) {
            Ok(fidelity) => post(Reply::Fidelity { id, fidelity: fidelity.map(Box::new) }, None),
            Err(e) => post(Reply::Failed { id, error: ErrorInfo::from(&e) }, None),
        },
        #[cfg(not(feature = "runtime"))]
        Request::Measure { .. } | Request::Fidelity { .. } => {
            let _ = host;
            let error = ErrorInfo::new("internal", "measurements and fidelity run in the runtime worker (playground-runtime)");
            post(Reply::Failed { id, error }, None);
        }
        Request::Profiles { .. } => {}
    }
}

/// The user's calibration data for `quantize int8` or `w8a8`, read against the model's inputs.
#[cfg(feature = "runtime")]
fn read_calibration(
    model: &[u8],
    options: &edgeport_engine::ConvertOptions,
    npz: Option<&[u8]>,
) -> Result<Option<edgeport_engine::Calibration>, edgeport_engine::EngineError> {
    match npz {
        Some(npz) if options.quantize.is_some_and(edgeport_engine::Quantize::is_calibrated) => {
            edgeport_engine::Calibration::for_model(model, &options.input_shapes, npz).map(Some)
        }
        Some(_) => Err(edgeport_engine::EngineError::options("calibration data applies to quantize int8 and w8a8 only")),
        None => Ok(None),
    }
}

/// The conversion worker leaves the `.npz` reader out with the CPU runtime: calibrated
/// conversions go to the runtime worker.
#[cfg(not(feature = "runtime"))]
fn read_calibration(
    _model: &[u8],
    _options: &edgeport_engine::ConvertOptions,
    npz: Option<&[u8]>,
) -> Result<Option<edgeport_engine::Calibration>, edgeport_engine::EngineError> {
    match npz {
        Some(_) => Err(edgeport_engine::EngineError::options("calibrated conversions run in the runtime worker (playground-runtime)")),
        None => Ok(None),
    }
}

/// The report's fidelity for a conversion with `options` (`None` when it is lossless), on the
/// user's calibration samples for a full-integer model, else on generated ones.
#[cfg(feature = "runtime")]
fn artifact_fidelity(
    model: &[u8],
    options: &edgeport_engine::ConvertOptions,
    npz: Option<&[u8]>,
) -> Result<Option<edgeport_engine::report::Fidelity>, edgeport_engine::EngineError> {
    let calibration = read_calibration(model, options, npz)?;
    let mut report = edgeport_engine::report::new("model.onnx", model);
    edgeport_engine::report::add_artifact_fidelity(&mut report, model, options, calibration.as_ref())?;
    Ok(report.fidelity.pop())
}

/// Measures on the chosen backend. WebGPU falls back to the CPU, saying why, when there is no
/// adapter or the device fails (lost, out of memory), so the page never needs a reload.
#[cfg(feature = "runtime")]
async fn measure_on_backend(
    model: &[u8],
    input_shapes: &std::collections::BTreeMap<String, Vec<usize>>,
    measure: &MeasureOptions,
    host: &Host,
    id: u32,
    post: &mut dyn FnMut(Reply, Option<Vec<u8>>),
) -> Result<Measurement, edgeport_engine::EngineError> {
    use edgeport_engine::runtime::Backend;
    let backend: Backend = measure.backend.parse()?;
    if backend == Backend::Cpu {
        return measure_variants(model, input_shapes, measure, Backend::Cpu, host, id, post).await;
    }
    let gpu = match edgeport_engine::exec::gpu::shared().await {
        Ok(_) => {
            describe_adapter().await;
            measure_variants(model, input_shapes, measure, Backend::Gpu, host, id, post).await
        }
        Err(e) => Err(e.into()),
    };
    match gpu {
        // A bad model or bad options fail on either backend; anything else is the GPU's.
        Err(e) if !matches!(e.code, edgeport_engine::ErrorCode::InvalidModel | edgeport_engine::ErrorCode::InvalidOptions) => {
            let mut m = measure_variants(model, input_shapes, measure, Backend::Cpu, host, id, post).await?;
            m.fallback = Some(format!("WebGPU could not run this here ({}), so it was measured on the CPU", e.message));
            Ok(m)
        }
        other => other,
    }
}

/// Records the adapter's vendor and architecture, which only the JavaScript API reports.
#[cfg(feature = "runtime")]
async fn describe_adapter() {
    #[cfg(target_arch = "wasm32")]
    {
        use js_sys::Reflect;
        let global = js_sys::global();
        let Ok(navigator) = Reflect::get(&global, &"navigator".into()) else { return };
        let Ok(gpu) = Reflect::get(&navigator, &"gpu".into()) else { return };
        let Ok(request) = Reflect::get(&gpu, &"requestAdapter".into()) else { return };
        let Ok(request) = wasm_bindgen::JsCast::dyn_into::<js_sys::Function>(request) else { return };
        let Ok(promise) = request.call0(&gpu) else { return };
        let Ok(adapter) = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise)).await else { return };
        let Ok(info) = Reflect::get(&adapter, &"info".into()) else { return };
        let text = |key: &str| Reflect::get(&info, &key.into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
        edgeport_engine::exec::gpu::describe(&text("vendor"), &text("architecture"));
    }
}

/// Benchmarks each variant with the engine's harness and compares its outputs with the fp32
/// original's on the CPU, on the same (deterministic sample) inputs.
#[cfg(feature = "runtime")]
async fn measure_variants(
    model: &[u8],
    input_shapes: &std::collections::BTreeMap<String, Vec<usize>>,
    measure: &MeasureOptions,
    backend: edgeport_engine::runtime::Backend,
    host: &Host,
    id: u32,
    post: &mut dyn FnMut(Reply, Option<Vec<u8>>),
) -> Result<Measurement, edgeport_engine::EngineError> {
    use edgeport_engine::runtime::{self, Backend, BenchOptions, Environment, RunOptions, Variant};
    if measure.variants.is_empty() {
        return Err(edgeport_engine::EngineError::options("choose at least one variant to measure"));
    }
    let variants: Vec<Variant> = measure.variants.iter().map(|v| v.parse()).collect::<Result<_, _>>()?;
    let options = |variant, backend| RunOptions { variant, backend, input_shapes: input_shapes.clone(), ..RunOptions::default() };
    let mut original = runtime::load(model, &options(Variant::Fp32, Backend::Cpu))?;
    let inputs = original.sample_inputs();
    let reference = original.run(&inputs)?.outputs;
    drop(original);
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let mut fidelity = Vec::new();
    let mut adapter = None;
    let mut timing = String::new();
    for variant in variants {
        let name = variant.name().to_string();
        let mut progress = |stage: &str, done: usize, total: usize| {
            let reply = Reply::MeasureProgress { id, variant: name.clone(), stage: stage.to_string(), done, total };
            post(reply, None);
        };
        let mut environment = Environment::current(1);
        environment.user_agent = Some(host.user_agent.clone());
        let bench = BenchOptions { warmup: measure.warmup, runs: measure.runs };
        let (report, mut runner) =
            runtime::bench_async(model, &options(variant, backend), &bench, &*host.clock, environment, &mut progress).await?;
        let outputs = runner.run_async(&inputs).await?.outputs;
        let agreement = runtime::agreement(&reference, &outputs);
        if variant != Variant::Fp32 {
            fidelity.push(edgeport_engine::report::Fidelity {
                variant: name.clone(),
                method: variant.method().to_string(),
                inputs: "generated".into(),
                samples: 1,
                outputs: agreement.clone(),
                layers: Vec::new(),
                kept_float: Vec::new(),
            });
        }
        let worst = |f: fn(&runtime::Agreement) -> f64, max: bool| {
            agreement.iter().map(f).fold(if max { 0.0 } else { 1.0 }, if max { f64::max } else { f64::min })
        };
        adapter = report.environment.adapter.clone();
        timing = report.timing.clone();
        out.push(MeasuredVariant {
            variant: name,
            load_ms: report.load_ms,
            first_run_ms: report.first_run_ms,
            p50_ms: report.p50_ms,
            p95_ms: report.p95_ms,
            p99_ms: report.p99_ms,
            mean_ms: report.mean_ms,
            std_ms: report.std_ms,
            runs: report.runs,
            peak_memory_bytes: report.peak_memory_bytes,
            executor_ms: report.executor_ms,
            wall_p50_ms: report.wall_p50_ms,
            max_abs_error: worst(|a| a.max_abs_error, true),
            cosine_similarity: worst(|a| a.cosine_similarity, false),
            reference_max_abs: worst(|a| a.reference_max_abs, true),
            report: serde_json::to_value(&report).unwrap_or_default(),
        });
        reports.push(report);
    }
    let measured = edgeport_engine::report::measured(backend.name(), &reports)
        .ok_or_else(|| edgeport_engine::EngineError::options("choose at least one variant to measure"))?;
    Ok(Measurement {
        backend: backend.name().into(),
        adapter,
        timing,
        fallback: None,
        user_agent: host.user_agent.clone(),
        variants: out,
        measured,
        fidelity,
    })
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
        let bytes = |key: &str| {
            Reflect::get(&data, &key.into()).ok().and_then(|b| b.dyn_into::<Uint8Array>().ok()).map(|b| b.to_vec())
        };
        let model = bytes("bytes").unwrap_or_default();
        let calibration = bytes("calibration");
        let mut post = post.clone();
        let scope = js_sys::global().unchecked_into::<DedicatedWorkerGlobalScope>();
        let performance = scope.performance();
        let clock = Box::new(move || performance.as_ref().map_or(0.0, |p| p.now()));
        let host = Host { clock, user_agent: scope.navigator().user_agent().unwrap_or_default() };
        wasm_bindgen_futures::spawn_local(async move { handle(&req, &model, calibration.as_deref(), &host, &mut post).await });
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
        run_with(req, model, None)
    }

    fn run_with(req: Request, model: &[u8], calibration: Option<&[u8]>) -> Vec<(Reply, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        let start = std::time::Instant::now();
        let clock = Box::new(move || start.elapsed().as_secs_f64() * 1e3);
        let host = Host { clock, user_agent: "test".into() };
        let done = edgeport_engine::exec::block_on(handle(&req, model, calibration, &host, &mut |r, b| out.push((r, b))));
        assert!(done.is_ok(), "the request waited on the browser");
        out
    }

    #[cfg(feature = "runtime")]
    #[test]
    fn measure_reports_each_variant_against_the_original() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mlp_gelu/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        let measure = crate::protocol::MeasureOptions { runs: 3, warmup: 1, ..MeasureOptions::default() };
        let out = run(Request::Measure { id: 4, options: Options::default(), measure }, &model);
        assert!(out.iter().any(|(r, _)| matches!(r, Reply::MeasureProgress { id: 4, .. })));
        let (Reply::Measured { id: 4, result }, None) = out.last().unwrap() else { panic!("{out:?}") };
        let names: Vec<&str> = result.variants.iter().map(|v| v.variant.as_str()).collect();
        assert_eq!(names, ["fp32", "fp16"]);
        assert_eq!(result.variants[0].max_abs_error, 0.0);
        assert!(result.variants[1].max_abs_error > 0.0 && result.variants[1].cosine_similarity > 0.999);
        assert!(result.variants.iter().all(|v| v.runs == 3 && v.p50_ms > 0.0 && v.report["schema"] == "edgeport.bench/1"));
    }

    /// A full-integer conversion calibrated on the user's `.npz` gives the engine's bytes, and
    /// its fidelity lists layers, worst first, measured on those samples.
    #[cfg(feature = "runtime")]
    #[test]
    fn int8_converts_on_the_calibration_data_and_reports_fidelity() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/digits");
        let (Ok(model), Ok(npz)) = (std::fs::read(dir.join("model.onnx")), std::fs::read(dir.join("calibration.npz"))) else { return };
        let options = Options {
            quantize: Some("int8".into()),
            calibration_method: Some(crate::protocol::CalibrationMethod::Mse),
            ..Options::default()
        };
        let out = run_with(Request::Convert { id: 5, options: options.clone() }, &model, Some(&npz));
        let (Reply::Converted { .. }, Some(bytes)) = out.last().unwrap() else { panic!("{out:?}") };
        let engine = options.to_engine().unwrap();
        let calibration = edgeport_engine::Calibration::for_model(&model, &engine.input_shapes, &npz).unwrap();
        let direct = edgeport_engine::convert_calibrated(&model, &engine, Some(&calibration), &mut |_| {}).unwrap();
        assert_eq!(bytes, &direct.bytes);

        let out = run_with(Request::Fidelity { id: 6, options }, &model, Some(&npz));
        let (Reply::Fidelity { id: 6, fidelity: Some(f) }, None) = out.last().unwrap() else { panic!("{out:?}") };
        assert_eq!(f.variant, "int8");
        assert_eq!(f.samples, calibration.len());
        assert!(f.layers.len() > 1 && f.layers.iter().any(|l| l.int8));
        let sqnr: Vec<f64> = f.layers.iter().filter_map(|l| l.sqnr_db).collect();
        assert!(sqnr.windows(2).all(|w| w[0] <= w[1]), "worst first: {sqnr:?}");

        // a lossless conversion has no fidelity to show; bad calibration data is an options error
        let out = run(Request::Fidelity { id: 8, options: Options::default() }, &model);
        assert!(matches!(out.last(), Some((Reply::Fidelity { id: 8, fidelity: None }, None))), "{out:?}");
        let out = run_with(Request::Convert { id: 9, options: Options { quantize: Some("int8".into()), ..Options::default() } }, &model, Some(b"not an npz"));
        assert!(matches!(&out.last().unwrap().0, Reply::Failed { id: 9, error } if error.code == "invalid_options"), "{out:?}");
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
