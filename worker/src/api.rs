//! The HTTP API as plain Rust: routing, query parsing, upload checks, the bounded body read and
//! the handlers. Nothing here touches JavaScript, so the whole API is tested natively; the wasm
//! glue (`glue.rs`) only moves a request in and a [`Reply`] out.
//!
//! Every outcome is a [`Reply`]; no input reaches a panic. Errors carry the engine's JSON shape
//! `{"code", "message", "nodes"?}` and their status follows from the code (see [`status_of`]).

use std::collections::BTreeMap;

use edgeport_engine::simulate::{SimFormat, SimPrecision, SimulateOptions, UnitKind};
use edgeport_engine::{ConvertOptions, CoremlTarget, EngineError, ErrorCode, Precision, Target};
use futures_util::{Stream, StreamExt};
use serde_json::json;

/// Largest request body accepted by default: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Media types accepted for the model upload (parameters such as `; charset=` are ignored).
pub const MODEL_MEDIA_TYPES: &[&str] = &["application/octet-stream", "application/onnx"];

/// Every route: (method, path). The OpenAPI document describes exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/health"),
    ("GET", "/v1/version"),
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/inspect"),
    ("POST", "/v1/convert"),
    ("GET", "/v1/profiles"),
    ("POST", "/v1/simulate"),
];

/// Query parameters each POST route takes; anything else is refused, so typos do not pass silently.
pub const INSPECT_PARAMS: &[&str] = &["input_shape"];
pub const CONVERT_PARAMS: &[&str] = &[
    "to",
    "nhwc_io",
    "input_shape",
    "target",
    "precision",
    "quantize",
    "palettize",
    "prune",
    "calibration_method",
    "keep_float",
    "interface",
    "fidelity",
    "name",
];
pub const SIMULATE_PARAMS: &[&str] =
    &["profile", "unit", "precision", "weight_bits", "format", "budget", "placement", "input_shape", "name"];

/// Output formats `/v1/convert?to=` accepts.
pub const TARGETS: &[&str] = &["tflite", "coreml", "onnx"];

const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: DEFAULT_MAX_BODY_BYTES }
    }
}

impl Limits {
    /// Limits from the optional `MAX_BODY_BYTES` binding; an unusable value keeps the default.
    pub fn from_binding(max_body_bytes: Option<&str>) -> Limits {
        let max = max_body_bytes
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        Limits { max_body_bytes: max }
    }
}

/// What the handlers need to know about a request before its body.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    /// The URL path, as received (not decoded).
    pub path: String,
    /// The raw query string without the leading `?` (empty when there is none).
    pub query: String,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
}

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply { status, headers: vec![("content-type".into(), JSON.into())], body: value.to_string().into_bytes() }
    }

    fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// An engine error with the status its code maps to.
    pub fn engine_error(err: &EngineError) -> Reply {
        Reply {
            status: status_of(err.code()),
            headers: vec![("content-type".into(), JSON.into())],
            body: err.to_json().into_bytes(),
        }
    }

    /// An error of the API itself (routing, media type, body size), in the engine's JSON shape.
    pub fn error(code: &str, message: impl Into<String>) -> Reply {
        Reply::json(status_of(code), &json!({ "code": code, "message": message.into() }))
    }
}

/// The HTTP status of each error code. Engine codes (`invalid_model`, `invalid_options`,
/// `unsupported`, `limit_exceeded`, `internal`) and the API's own (`not_found`,
/// `method_not_allowed`, `unsupported_media_type`).
pub fn status_of(code: &str) -> u16 {
    match code {
        "invalid_model" | "invalid_options" | "bad_request" => 400,
        "not_found" => 404,
        "method_not_allowed" => 405,
        "limit_exceeded" => 413,
        "unsupported_media_type" => 415,
        "unsupported" => 422,
        _ => 500,
    }
}

/// Every error code the API returns, for the OpenAPI schema.
pub const ERROR_CODES: &[&str] = &[
    "invalid_model",
    "invalid_options",
    "bad_request",
    "not_found",
    "method_not_allowed",
    "limit_exceeded",
    "unsupported_media_type",
    "unsupported",
    "internal",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Version,
    OpenApi,
    Inspect,
    Convert,
    Profiles,
    Simulate,
}

impl Route {
    pub fn takes_body(self) -> bool {
        matches!(self, Route::Inspect | Route::Convert | Route::Simulate)
    }
}

/// Finds the route for a method and path: 404 for an unknown path, 405 (with `allow`) for a
/// known path and another method.
pub fn route(method: &str, path: &str) -> Result<Route, Reply> {
    let found = match path {
        "/v1/health" => Route::Health,
        "/v1/version" => Route::Version,
        "/v1/openapi.json" => Route::OpenApi,
        "/v1/inspect" => Route::Inspect,
        "/v1/convert" => Route::Convert,
        "/v1/profiles" => Route::Profiles,
        "/v1/simulate" => Route::Simulate,
        _ => {
            let shown: String = path.chars().take(200).collect();
            return Err(Reply::error("not_found", format!("no route {shown} (see GET /v1/openapi.json)")));
        }
    };
    let allowed = if found.takes_body() { "POST" } else { "GET" };
    if method != allowed {
        let shown: String = method.chars().take(20).collect();
        return Err(Reply::error("method_not_allowed", format!("{path} takes {allowed}, not {shown}"))
            .with_header("allow", allowed));
    }
    Ok(found)
}

/// Checks the upload's headers before any byte of the body is read: 415 unless the media type
/// is one of [`MODEL_MEDIA_TYPES`], 413 when a declared length is over the limit.
pub fn check_upload(head: &RequestHead, limits: &Limits) -> Result<Option<usize>, Reply> {
    let media = head
        .content_type
        .as_deref()
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !MODEL_MEDIA_TYPES.contains(&media.as_str()) {
        let got = if media.is_empty() { "no content-type".to_string() } else { format!("content-type '{media}'") };
        return Err(Reply::error(
            "unsupported_media_type",
            format!("send the ONNX model as the raw body with content-type {}; got {got}", MODEL_MEDIA_TYPES.join(" or ")),
        ));
    }
    let declared = match head.content_length.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Err(Reply::error("bad_request", "content-length is not a number")),
        },
    };
    match declared {
        Some(n) if n > limits.max_body_bytes as u64 => Err(too_large(limits)),
        Some(n) => Ok(usize::try_from(n).ok()),
        None => Ok(None),
    }
}

fn too_large(limits: &Limits) -> Reply {
    Reply::error(
        "limit_exceeded",
        format!("request body is larger than the limit of {} bytes", limits.max_body_bytes),
    )
}

/// Reads the whole body, holding at most `limits.max_body_bytes` of it (the buffer's capacity
/// never passes the limit either): the read stops with 413 at the first chunk that would pass
/// the limit, whether or not a length was declared.
pub async fn read_body<S, E>(mut body: S, declared: Option<usize>, limits: &Limits) -> Result<Vec<u8>, Reply>
where
    S: Stream<Item = Result<Vec<u8>, E>> + Unpin,
    E: std::fmt::Display,
{
    let max = limits.max_body_bytes;
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(max));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Reply::error("bad_request", format!("could not read the request body: {e}")))?;
        if chunk.len() > max - buf.len() {
            return Err(too_large(limits));
        }
        let needed = buf.len() + chunk.len();
        if needed > buf.capacity() {
            // Grow by doubling as Vec does, but never past the limit.
            let target = needed.max(buf.capacity().saturating_mul(2)).min(max);
            buf.reserve_exact(target - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Parses the query of a POST route into engine options. Repeated parameters other than
/// `input_shape`, unknown parameters and bad values are `invalid_options` (400).
pub fn parse_query(route: Route, query: &str) -> Result<ConvertOptions, EngineError> {
    parse_query_with(route, query).map(|(opts, _)| opts)
}

/// The query's parameters: `input_shape` values parsed into the options, the others by name.
fn parse_query_with(route: Route, query: &str) -> Result<(ConvertOptions, BTreeMap<String, String>), EngineError> {
    let known = match route {
        Route::Convert => CONVERT_PARAMS,
        Route::Simulate => SIMULATE_PARAMS,
        _ => INSPECT_PARAMS,
    };
    let mut single: BTreeMap<String, String> = BTreeMap::new();
    let mut shapes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !known.contains(&key.as_ref()) {
            let shown: String = key.chars().take(64).collect();
            return Err(EngineError::options(format!(
                "unknown query parameter '{shown}' (this route takes: {})",
                known.join(", ")
            )));
        }
        if key == "input_shape" {
            let (name, dims) = parse_input_shape(&value)?;
            if shapes.insert(name.clone(), dims).is_some() {
                return Err(EngineError::options(format!("input_shape given twice for input '{name}'")));
            }
        } else if single.insert(key.to_string(), value.to_string()).is_some() {
            return Err(EngineError::options(format!("query parameter '{key}' given more than once")));
        }
    }
    if let Some(name) = single.get("name") {
        crate::report::check_name(name)?;
    }
    let mut opts = ConvertOptions { input_shapes: shapes, ..ConvertOptions::default() };
    if route != Route::Convert {
        return Ok((opts, single));
    }
    opts.target = match single.get("to").map(String::as_str) {
        None => {
            return Err(EngineError::options(format!(
                "query parameter 'to' is required (one of: {})",
                TARGETS.join(", ")
            )));
        }
        Some(to) => to.parse::<Target>()?,
    };
    if let Some(v) = single.get("nhwc_io") {
        opts.nhwc_io = flag("nhwc_io", v)?;
    }
    if let Some(v) = single.get("fidelity") {
        flag("fidelity", v)?;
    }
    if let Some(v) = single.get("calibration_method") {
        opts.calibration_method = Some(v.parse::<edgeport_engine::CalibrationMethod>()?);
    }
    if let Some(v) = single.get("keep_float") {
        opts.keep_float = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    }
    if let Some(v) = single.get("interface") {
        opts.interface = Some(v.parse::<edgeport_engine::Interface>()?);
    }
    if let Some(v) = single.get("target") {
        opts.coreml_target = Some(v.parse::<CoremlTarget>()?);
    }
    if let Some(v) = single.get("precision") {
        opts.precision = Some(v.parse::<Precision>()?);
    }
    if let Some(v) = single.get("quantize") {
        opts.quantize = Some(v.parse::<edgeport_engine::Quantize>()?);
    }
    if let Some(v) = single.get("palettize") {
        opts.palettize = Some(v.parse::<edgeport_engine::Palettize>()?);
    }
    if let Some(v) = single.get("prune") {
        opts.prune = Some(v.parse::<edgeport_engine::Prune>()?);
    }
    Ok((opts, single))
}

/// A boolean query parameter: 1, 0, true or false.
fn flag(key: &str, v: &str) -> Result<bool, EngineError> {
    match v {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        other => Err(EngineError::options(format!("{key} must be 1, 0, true or false, not '{}'", clip(other)))),
    }
}

/// The query of `/v1/convert`: the options, the model's name for the run report, and whether
/// the report should carry the variant's fidelity (`fidelity=1`).
pub fn parse_convert_query(query: &str) -> Result<(ConvertOptions, String, bool), EngineError> {
    let (opts, single) = parse_query_with(Route::Convert, query)?;
    let fidelity = single.get("fidelity").map(|v| flag("fidelity", v)).transpose()?.unwrap_or(false);
    Ok((opts, model_name(&single), fidelity))
}

/// The `name` parameter (checked by [`parse_query_with`]), or the default.
fn model_name(single: &BTreeMap<String, String>) -> String {
    single.get("name").cloned().unwrap_or_else(|| crate::report::DEFAULT_NAME.to_string())
}

/// The query of `/v1/simulate`: comma lists of profiles and units, one precision, format and
/// budget, whether to include the per-layer placement, and the model's name for the run report.
pub fn parse_simulate_query(query: &str) -> Result<(ConvertOptions, SimulateOptions, String), EngineError> {
    let (convert, single) = parse_query_with(Route::Simulate, query)?;
    let list = |key: &str| -> Vec<String> {
        single.get(key).map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    };
    let one_of = |key: &str, value: &str, allowed: &str| {
        EngineError::options(format!("{key} '{}' is not one of {allowed}", clip(value)))
    };
    let mut opts = SimulateOptions { profiles: list("profile"), budget: single.get("budget").cloned(), ..Default::default() };
    for u in list("unit") {
        opts.units.push(UnitKind::parse(&u).ok_or_else(|| one_of("unit", &u, "cpu, gpu, npu, ane, tpu"))?);
    }
    if let Some(v) = single.get("precision") {
        opts.precision = Some(SimPrecision::parse(v).ok_or_else(|| one_of("precision", v, "fp32, fp16, int8"))?);
    }
    if let Some(v) = single.get("format") {
        opts.format = Some(SimFormat::parse(v).ok_or_else(|| one_of("format", v, "tflite, coreml, onnx"))?);
    }
    if let Some(v) = single.get("weight_bits") {
        opts.weight_bits =
            Some(v.parse::<u8>().ok().filter(|b| (1..=32).contains(b)).ok_or_else(|| one_of("weight_bits", v, "1..32"))?);
    }
    opts.no_placement = match single.get("placement").map(String::as_str) {
        None | Some("0" | "false") => true,
        Some("1" | "true") => false,
        Some(other) => return Err(one_of("placement", other, "1, 0, true, false")),
    };
    Ok((convert, opts, model_name(&single)))
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// One `input_shape` value: `NAME:D1,D2,...`, split at the last `:` (dimensions never hold
/// one, so names may).
pub fn parse_input_shape(value: &str) -> Result<(String, Vec<usize>), EngineError> {
    let bad = |why: &str| EngineError::options(format!("input_shape '{}': {why} (expected NAME:D1,D2,...)", clip(value)));
    let (name, dims) = value.rsplit_once(':').ok_or_else(|| bad("no ':' between the name and the dims"))?;
    if name.is_empty() {
        return Err(bad("the input name is empty"));
    }
    if dims.trim().is_empty() {
        return Err(bad("no dims"));
    }
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<usize>().map_err(|_| bad(&format!("'{}' is not a dimension", clip(d)))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.to_string(), dims))
}

/// Serves one request: route, check, read the body within the limit, run the engine.
pub async fn serve<S, E>(head: &RequestHead, body: S, limits: &Limits) -> Reply
where
    S: Stream<Item = Result<Vec<u8>, E>> + Unpin,
    E: std::fmt::Display,
{
    serve_accepting(head, None, body, limits).await
}

/// [`serve`], with the request's `accept` header: `/v1/convert` answers `multipart/mixed` (the
/// run report, then the artifact) when it is asked for. The header is an argument rather than a
/// field of [`RequestHead`] so that code building a head field by field keeps compiling.
pub async fn serve_accepting<S, E>(head: &RequestHead, accept: Option<&str>, body: S, limits: &Limits) -> Reply
where
    S: Stream<Item = Result<Vec<u8>, E>> + Unpin,
    E: std::fmt::Display,
{
    #[cfg(feature = "panic-test")]
    match head.query.as_str() {
        "panic_sync" => panic!("test panic before any await"),
        "panic_async" => {
            let _ = read_body(body, None, limits).await;
            panic!("test panic after reading the body");
        }
        _ => {}
    }
    let route = match route(&head.method, &head.path) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    match route {
        Route::Health => Reply::json(200, &json!({ "status": "ok" })),
        Route::Version => Reply::json(200, &version_json(limits)),
        Route::OpenApi => Reply {
            status: 200,
            headers: vec![("content-type".into(), JSON.into())],
            body: crate::openapi::DOCUMENT.as_bytes().to_vec(),
        },
        Route::Profiles => match edgeport_engine::simulate::list_profiles() {
            Ok(list) => Reply::json(200, &json!({ "profiles": list })),
            Err(e) => Reply::engine_error(&e),
        },
        Route::Simulate => {
            let declared = match check_upload(head, limits) {
                Ok(d) => d,
                Err(reply) => return reply,
            };
            let (convert, opts, name) = match parse_simulate_query(&head.query) {
                Ok(o) => o,
                Err(e) => return Reply::engine_error(&e),
            };
            let model = match read_body(body, declared, limits).await {
                Ok(b) => b,
                Err(reply) => return reply,
            };
            simulate(&model, &convert, &opts, &name)
        }
        Route::Convert => {
            let declared = match check_upload(head, limits) {
                Ok(d) => d,
                Err(reply) => return reply,
            };
            let (opts, name, fidelity) = match parse_convert_query(&head.query) {
                Ok(o) => o,
                Err(e) => return Reply::engine_error(&e),
            };
            let model = match read_body(body, declared, limits).await {
                Ok(b) => b,
                Err(reply) => return reply,
            };
            convert(&model, &opts, &name, fidelity, crate::report::wants_multipart(accept))
        }
        Route::Inspect => {
            let declared = match check_upload(head, limits) {
                Ok(d) => d,
                Err(reply) => return reply,
            };
            let opts = match parse_query(route, &head.query) {
                Ok(o) => o,
                Err(e) => return Reply::engine_error(&e),
            };
            let model = match read_body(body, declared, limits).await {
                Ok(b) => b,
                Err(reply) => return reply,
            };
            inspect(&model, &opts)
        }
    }
}

pub fn version_json(limits: &Limits) -> serde_json::Value {
    json!({
        "name": "edgeport",
        "version": env!("CARGO_PKG_VERSION"),
        "api": "v1",
        "targets": TARGETS,
        "max_body_bytes": limits.max_body_bytes,
    })
}

fn inspect(model: &[u8], opts: &ConvertOptions) -> Reply {
    let report = match edgeport_engine::inspect(model, opts) {
        Ok(r) => r,
        Err(e) => return Reply::engine_error(&e),
    };
    match serde_json::to_vec(&report) {
        Ok(body) => Reply { status: 200, headers: vec![("content-type".into(), JSON.into())], body },
        Err(e) => Reply::engine_error(&EngineError::new(ErrorCode::Internal, format!("inspect report: {e}"))),
    }
}

/// The simulation report as the body (what `edgeport simulate --json` prints) and the run
/// report's share-link payload in the `edgeport-report` header.
fn simulate(model: &[u8], convert: &ConvertOptions, opts: &SimulateOptions, name: &str) -> Reply {
    let simulation = match edgeport_engine::simulate::simulate(model, convert, opts) {
        Ok(r) => r,
        Err(e) => return Reply::engine_error(&e),
    };
    let body = match serde_json::to_vec(&simulation) {
        Ok(body) => body,
        Err(e) => return Reply::engine_error(&EngineError::new(ErrorCode::Internal, format!("simulation report: {e}"))),
    };
    let link = match crate::report::link(crate::report::of_simulation(name, model, convert, simulation)) {
        Ok(l) => l,
        Err(e) => return Reply::engine_error(&e),
    };
    Reply { status: 200, headers: vec![("content-type".into(), JSON.into())], body }.with_header(crate::report::HEADER, link)
}

/// The artifact as the body, or with `multipart` the run report then the artifact; either way
/// the run report's share-link payload in the `edgeport-report` header.
fn convert(model: &[u8], opts: &ConvertOptions, name: &str, fidelity: bool, multipart: bool) -> Reply {
    let artifact = match edgeport_engine::convert(model, opts, &mut |_| {}) {
        Ok(a) => a,
        Err(e) => return Reply::engine_error(&e),
    };
    let mut report = crate::report::of_conversion(name, model, opts, &artifact);
    if fidelity && let Err(e) = edgeport_engine::report::add_artifact_fidelity(&mut report, model, opts, None) {
        return Reply::engine_error(&e);
    }
    let report_json = if multipart {
        match serde_json::to_vec_pretty(&report) {
            Ok(json) => Some(json),
            Err(e) => return Reply::engine_error(&EngineError::new(ErrorCode::Internal, format!("run report: {e}"))),
        }
    } else {
        None
    };
    let link = match crate::report::link(report) {
        Ok(l) => l,
        Err(e) => return Reply::engine_error(&e),
    };
    let reply = Reply { status: 200, headers: Vec::new(), body: Vec::new() };
    let reply = match report_json {
        Some(json) => {
            let (content_type, body) = crate::report::multipart(&json, &artifact);
            reply.with_header("content-type", content_type).with_body(body)
        }
        None => reply
            .with_header("content-type", artifact.media_type.clone())
            .with_header("content-disposition", content_disposition(&artifact.file_name))
            .with_body(artifact.bytes),
    };
    // The answer depends on `accept`, so a cache must key on it.
    reply
        .with_header("x-edgeport-sha256", artifact.sha256)
        .with_header(crate::report::HEADER, link)
        .with_header("vary", "accept")
}

impl Reply {
    fn with_body(mut self, body: Vec<u8>) -> Reply {
        self.body = body;
        self
    }
}

/// `attachment; filename="..."` with a header-safe ASCII name, plus the exact UTF-8 name in
/// `filename*` (RFC 6266) when the two differ. The model chooses the name, so nothing of it
/// reaches the header unescaped.
pub fn content_disposition(file_name: &str) -> String {
    let mut safe: String = file_name
        .chars()
        .take(120)
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    while safe.starts_with('.') {
        safe.remove(0);
    }
    if safe.is_empty() {
        safe = "model".into();
    }
    if safe == file_name {
        return format!("attachment; filename=\"{safe}\"");
    }
    let mut encoded = String::new();
    for c in file_name.chars().take(120) {
        if c.is_ascii_alphanumeric() || "._-".contains(c) {
            encoded.push(c);
        } else {
            let mut utf8 = [0u8; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
    }
    format!("attachment; filename=\"{safe}\"; filename*=UTF-8''{encoded}")
}
