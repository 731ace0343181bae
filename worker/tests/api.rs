//! The worker's HTTP API, natively: routing, checks, the bounded body read and the handlers,
//! against the engine's own results on the repository's fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use edgeport_engine::ConvertOptions;
use edgeport_worker::api::{self, Limits, Reply, RequestHead};
use futures_util::stream;
use serde_json::Value;

/// Runs a future whose awaits are all ready (the bodies here are in-memory streams).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn head(method: &str, path_and_query: &str) -> RequestHead {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    RequestHead {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        content_type: Some("application/octet-stream".into()),
        content_length: None,
    }
}

fn serve_chunks(head: &RequestHead, chunks: Vec<Vec<u8>>, limits: &Limits) -> Reply {
    let body = stream::iter(chunks.into_iter().map(Ok::<_, String>));
    now(api::serve(head, body, limits))
}

/// Serves a request whose body arrives in 64 KiB chunks, with its content-length declared.
fn serve(method: &str, path_and_query: &str, body: &[u8]) -> Reply {
    let mut h = head(method, path_and_query);
    h.content_length = Some(body.len().to_string());
    serve_chunks(&h, body.chunks(64 * 1024).map(<[u8]>::to_vec).collect(), &Limits::default())
}

fn json(reply: &Reply) -> Value {
    assert_eq!(reply.header("content-type"), Some("application/json"), "{reply:?}");
    serde_json::from_slice(&reply.body).unwrap()
}

fn error_code(reply: &Reply) -> String {
    json(reply)["code"].as_str().unwrap().to_string()
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let model = e.path().join("model.onnx");
            model.is_file().then(|| (e.file_name().to_string_lossy().into_owned(), std::fs::read(model).unwrap()))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no fixtures under {}", dir.display());
    found
}

// ---- a hand-written ONNX model with ops nobody supports -------------------------------------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn field_int(field: u64, v: u64, out: &mut Vec<u8>) {
    varint(field << 3, out);
    varint(v, out);
}

fn value_info(name: &str) -> Vec<u8> {
    // ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1 (FLOAT), shape=2: {dim=1 x2}}}}
    let mut shape = Vec::new();
    for d in [1u64, 4] {
        let mut dim = Vec::new();
        field_int(1, d, &mut dim);
        field_bytes(1, &dim, &mut shape);
    }
    let mut tensor = Vec::new();
    field_int(1, 1, &mut tensor);
    field_bytes(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    field_bytes(1, &tensor, &mut ty);
    let mut vi = Vec::new();
    field_bytes(1, name.as_bytes(), &mut vi);
    field_bytes(2, &ty, &mut vi);
    vi
}

/// x -> FrobnicateA -> Relu -> FrobnicateB -> y: two unsupported nodes around a supported one.
fn unsupported_model() -> Vec<u8> {
    let node = |input: &str, output: &str, name: &str, op: &str| {
        let mut n = Vec::new();
        field_bytes(1, input.as_bytes(), &mut n);
        field_bytes(2, output.as_bytes(), &mut n);
        field_bytes(3, name.as_bytes(), &mut n);
        field_bytes(4, op.as_bytes(), &mut n);
        n
    };
    let mut graph = Vec::new();
    field_bytes(1, &node("x", "a", "frob_a", "FrobnicateA"), &mut graph);
    field_bytes(1, &node("a", "b", "relu", "Relu"), &mut graph);
    field_bytes(1, &node("b", "y", "frob_b", "FrobnicateB"), &mut graph);
    field_bytes(2, b"unsupported", &mut graph);
    field_bytes(11, &value_info("x"), &mut graph);
    field_bytes(12, &value_info("y"), &mut graph);
    let mut opset = Vec::new();
    field_int(2, 17, &mut opset);
    let mut model = Vec::new();
    field_int(1, 8, &mut model);
    field_bytes(7, &graph, &mut model);
    field_bytes(8, &opset, &mut model);
    model
}

// ---- routing ---------------------------------------------------------------------------------

#[test]
fn get_routes() {
    let r = serve("GET", "/v1/health", b"");
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["status"], "ok");

    let r = serve("GET", "/v1/version", b"");
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["max_body_bytes"], api::DEFAULT_MAX_BODY_BYTES);

    let r = serve("GET", "/v1/openapi.json", b"");
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["openapi"], "3.1.0");
}

#[test]
fn unknown_routes_and_methods() {
    for path in ["/", "/v1", "/v1/health/", "/v2/health", "/v1/convert/x", "/V1/HEALTH"] {
        let r = serve("GET", path, b"");
        assert_eq!((r.status, error_code(&r).as_str()), (404, "not_found"), "{path}");
    }
    for (method, path, allow) in [
        ("POST", "/v1/health", "GET"),
        ("DELETE", "/v1/version", "GET"),
        ("PUT", "/v1/openapi.json", "GET"),
        ("GET", "/v1/inspect", "POST"),
        ("GET", "/v1/convert", "POST"),
        ("OPTIONS", "/v1/convert", "POST"),
        ("HEAD", "/v1/health", "GET"),
    ] {
        let r = serve(method, path, b"");
        assert_eq!((r.status, error_code(&r).as_str()), (405, "method_not_allowed"), "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow));
    }
}

// ---- upload checks ---------------------------------------------------------------------------

#[test]
fn media_types() {
    let model = &fixtures()[0].1;
    for ct in ["application/octet-stream", "application/onnx", "Application/ONNX; foo=bar", "application/octet-stream "] {
        let mut h = head("POST", "/v1/inspect");
        h.content_type = Some(ct.into());
        let r = serve_chunks(&h, vec![model.clone()], &Limits::default());
        assert_eq!(r.status, 200, "{ct}: {}", String::from_utf8_lossy(&r.body));
    }
    for ct in [None, Some(""), Some("text/plain"), Some("application/json"), Some("multipart/form-data; boundary=x")] {
        let mut h = head("POST", "/v1/convert?to=tflite");
        h.content_type = ct.map(str::to_string);
        let r = serve_chunks(&h, vec![model.clone()], &Limits::default());
        assert_eq!((r.status, error_code(&r).as_str()), (415, "unsupported_media_type"), "{ct:?}");
    }
}

#[test]
fn body_limit_with_and_without_content_length() {
    let limits = Limits { max_body_bytes: 1000 };
    // Declared too large: refused before reading (the body stream would fail if polled).
    let mut h = head("POST", "/v1/inspect");
    h.content_length = Some("1001".into());
    let failing = stream::iter(vec![Err::<Vec<u8>, String>("must not be read".into())]);
    let r = now(api::serve(&h, failing, &limits));
    assert_eq!((r.status, error_code(&r).as_str()), (413, "limit_exceeded"));

    // No length: the read stops at the chunk that passes the limit, and reads no further.
    let h = head("POST", "/v1/inspect");
    let chunks = (0..3).map(|_| Ok::<_, String>(vec![0u8; 400])).chain(std::iter::once(Err("read past the limit".into())));
    let r = now(api::serve(&h, stream::iter(chunks), &limits));
    assert_eq!((r.status, error_code(&r).as_str()), (413, "limit_exceeded"));

    // A declared length that lies low is caught the same way.
    let mut h = head("POST", "/v1/convert?to=tflite");
    h.content_length = Some("10".into());
    let r = serve_chunks(&h, vec![vec![0u8; 600], vec![0u8; 600]], &limits);
    assert_eq!(r.status, 413);

    // Exactly at the limit is read and handed to the engine (which refuses the zeros as a model).
    let h = head("POST", "/v1/inspect");
    let r = serve_chunks(&h, vec![vec![0u8; 500], vec![0u8; 500]], &limits);
    assert_eq!((r.status, error_code(&r).as_str()), (400, "invalid_model"));

    let mut h = head("POST", "/v1/inspect");
    h.content_length = Some("ten".into());
    let r = serve_chunks(&h, vec![], &limits);
    assert_eq!((r.status, error_code(&r).as_str()), (400, "bad_request"));

    let h = head("POST", "/v1/inspect");
    let r = now(api::serve(&h, stream::iter(vec![Err::<Vec<u8>, String>("connection reset".into())]), &limits));
    assert_eq!((r.status, error_code(&r).as_str()), (400, "bad_request"));
}

#[test]
fn the_buffer_never_grows_past_the_limit() {
    let limits = Limits { max_body_bytes: 10_000 };
    for (declared, chunk) in [(None, 1), (None, 999), (None, 4096), (Some(10_000), 333), (Some(5), 1000)] {
        let chunks: Vec<Result<Vec<u8>, String>> = (0..10_000 / chunk).map(|_| Ok(vec![7u8; chunk])).collect();
        let total = chunks.len() * chunk;
        let body = now(api::read_body(stream::iter(chunks), declared, &limits)).unwrap();
        assert_eq!(body.len(), total);
        assert!(body.capacity() <= limits.max_body_bytes, "{declared:?} {chunk}: capacity {}", body.capacity());
    }
}

#[test]
fn limits_binding() {
    assert_eq!(Limits::from_binding(None).max_body_bytes, 64 << 20);
    assert_eq!(Limits::from_binding(Some("1234")).max_body_bytes, 1234);
    assert_eq!(Limits::from_binding(Some("0")).max_body_bytes, 64 << 20);
    assert_eq!(Limits::from_binding(Some("lots")).max_body_bytes, 64 << 20);
}

// ---- query parameters ------------------------------------------------------------------------

#[test]
fn query_parsing() {
    use api::Route::{Convert, Inspect};
    let o = api::parse_query(Convert, "to=tflite&nhwc_io=1&input_shape=x:1,3,224,224&input_shape=a%3Ab:1,%202").unwrap();
    assert_eq!(o.target, edgeport_engine::Target::Tflite);
    assert!(o.nhwc_io);
    assert_eq!(o.input_shapes["x"], vec![1, 3, 224, 224]);
    assert_eq!(o.input_shapes["a:b"], vec![1, 2]);

    let o = api::parse_query(Convert, "to=coreml&target=ios17&precision=fp32").unwrap();
    assert_eq!(o.target, edgeport_engine::Target::Coreml);
    assert_eq!(o.coreml_target, Some(edgeport_engine::CoremlTarget::Ios17));
    assert_eq!(o.precision, Some(edgeport_engine::Precision::Fp32));

    assert_eq!(api::parse_query(Convert, "to=tflite&nhwc_io=false").unwrap(), ConvertOptions::default());
    let o = api::parse_query(Convert, "to=onnx&quantize=int8&calibration_method=mse&keep_float=a,%20b&fidelity=1").unwrap();
    assert_eq!(o.target, edgeport_engine::Target::Onnx);
    assert_eq!(o.quantize, Some(edgeport_engine::Quantize::Int8));
    assert_eq!(o.calibration_method, Some(edgeport_engine::CalibrationMethod::Mse));
    assert_eq!(o.keep_float, ["a", "b"]);
    assert_eq!(api::parse_query(Inspect, "").unwrap(), ConvertOptions::default());

    for bad in [
        "",
        "to=pdf",
        "to=tflite&to=tflite",
        "to=tflite&quantize=int8&calibration_method=best",
        "to=tflite&quantize=int8&interface=int4",
        "to=tflite&fidelity=maybe",
        "to=tflite&nhwc=1",
        "to=tflite&nhwc_io=yes",
        "to=tflite&input_shape=x",
        "to=tflite&input_shape=:1,2",
        "to=tflite&input_shape=x:",
        "to=tflite&input_shape=x:1,-2",
        "to=tflite&input_shape=x:1,2&input_shape=x:1,3",
        "to=coreml&target=ios14",
        "to=coreml&precision=int8",
    ] {
        let e = api::parse_query(Convert, bad).unwrap_err();
        assert_eq!(e.code(), "invalid_options", "{bad}");
    }
    assert!(api::parse_query(Inspect, "to=tflite").is_err(), "inspect takes input_shape only");
}

#[test]
fn bad_options_are_400_before_the_engine_runs() {
    let model = &fixtures()[0].1;
    for q in ["", "?to=pdf", "?to=tflite&nhwc_io=2", "?to=tflite&target=ios16", "?to=tflite&precision=fp16", "?to=coreml&nhwc_io=1"] {
        let r = serve("POST", &format!("/v1/convert{q}"), model);
        assert_eq!((r.status, error_code(&r).as_str()), (400, "invalid_options"), "{q}");
    }
}

// ---- handlers against the engine -------------------------------------------------------------

#[test]
fn convert_returns_the_engines_bytes() {
    for (name, model) in fixtures() {
        for nhwc in [false, true] {
            let q = if nhwc { "?to=tflite&nhwc_io=1" } else { "?to=tflite" };
            let r = serve("POST", &format!("/v1/convert{q}"), &model);
            assert_eq!(r.status, 200, "{name}{q}: {}", String::from_utf8_lossy(&r.body));
            let opts = ConvertOptions { nhwc_io: nhwc, ..ConvertOptions::default() };
            let want = edgeport_engine::convert(&model, &opts, &mut |_| {}).unwrap();
            assert!(r.body == want.bytes, "{name}{q}: bytes differ from the engine's");
            assert_eq!(r.header("content-type"), Some("application/vnd.tflite"));
            assert_eq!(r.header("x-edgeport-sha256"), Some(want.sha256.as_str()));
            assert_eq!(r.header("x-edgeport-sha256"), Some(edgeport_engine::sha256_hex(&r.body).as_str()));
            let cd = r.header("content-disposition").unwrap();
            assert!(cd.starts_with("attachment; filename=\"") && cd.contains(".tflite"), "{cd}");
        }
    }
}

#[test]
fn convert_to_coreml() {
    let (name, model) = fixtures().into_iter().find(|(n, _)| n == "mlp_gelu").unwrap();
    let r = serve("POST", "/v1/convert?to=coreml&target=ios17&precision=fp32", &model);
    if r.status == 422 {
        // The Core ML exporter may not express every op of the fixture yet; it must say which.
        assert!(json(&r)["nodes"].as_array().is_some_and(|n| !n.is_empty()), "{name}");
        return;
    }
    assert_eq!(r.status, 200, "{name}: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert!(r.header("content-disposition").unwrap().contains(".mlpackage.zip"));
    assert!(r.body.starts_with(b"PK"));
}

#[test]
fn inspect_matches_the_engine() {
    for (name, model) in fixtures() {
        let r = serve("POST", "/v1/inspect", &model);
        assert_eq!(r.status, 200, "{name}");
        let want = serde_json::to_value(edgeport_engine::inspect(&model, &ConvertOptions::default()).unwrap()).unwrap();
        assert_eq!(json(&r), want, "{name}");
    }
}

#[test]
fn unsupported_ops_are_422_with_every_node() {
    let model = unsupported_model();
    for path in ["/v1/inspect", "/v1/convert?to=tflite"] {
        let r = serve("POST", path, &model);
        let v = json(&r);
        assert_eq!((r.status, v["code"].as_str().unwrap()), (422, "unsupported"), "{path}: {v}");
        let nodes: Vec<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert_eq!(nodes, ["frob_a", "frob_b"], "{path}");
    }
}

#[test]
fn malformed_bodies_are_4xx_never_500() {
    let mut bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        b"not a model at all".to_vec(),
        vec![0xff; 4096],
    ];
    // Every fixture cut at a spread of lengths, and with a byte flipped here and there.
    for (_, model) in fixtures() {
        let n = model.len();
        for cut in [1, 2, 7, 16, 100, n / 3, n / 2, n - 1] {
            bodies.push(model[..cut.min(n)].to_vec());
        }
        let mut seed = n as u64;
        for _ in 0..6 {
            let mut m = model.clone();
            for _ in 0..8 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let at = (seed >> 33) as usize % n;
                m[at] ^= (seed >> 13) as u8 | 1;
            }
            bodies.push(m);
        }
    }
    for (i, body) in bodies.iter().enumerate() {
        for path in ["/v1/inspect", "/v1/convert?to=tflite"] {
            let r = serve("POST", path, body);
            assert!(r.status == 200 || (400..500).contains(&r.status), "body #{i} on {path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
            if r.status != 200 {
                let v = json(&r);
                assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
            }
        }
    }
}

#[test]
fn content_disposition_is_header_safe() {
    assert_eq!(api::content_disposition("model.tflite"), "attachment; filename=\"model.tflite\"");
    let cd = api::content_disposition("mödel \"x\"\r\nset-cookie: a.tflite");
    assert!(cd.is_ascii() && !cd.contains('\r') && !cd.contains('\n'), "{cd}");
    assert!(cd.starts_with("attachment; filename=\"m_del__x___set-cookie__a.tflite\"; filename*=UTF-8''m%C3%B6del%20"), "{cd}");
    assert_eq!(api::content_disposition("..tflite"), "attachment; filename=\"tflite\"; filename*=UTF-8''..tflite");
}
