//! The JSON-in, JSON-out halves of the wasm-bindgen exports, as plain Rust so they can be tested
//! natively.

use edgeport_engine::{ConvertOptions, EngineError};
use serde_json::{Value, json};

/// Parses the options JSON; an empty or blank string gives the defaults.
pub fn parse_options(options_json: &str) -> Result<ConvertOptions, String> {
    if options_json.trim().is_empty() {
        return Ok(ConvertOptions::default());
    }
    serde_json::from_str(options_json).map_err(|e| {
        json!({ "code": "invalid_options", "message": format!("options: {e}"), "nodes": [] }).to_string()
    })
}

pub fn inspect_json(model: &[u8], options_json: &str) -> Result<String, String> {
    let opts = parse_options(options_json)?;
    let report = edgeport_engine::inspect(model, &opts).map_err(|e| error_json(&e))?;
    serde_json::to_string(&report).map_err(|e| internal(&e))
}

pub fn convert_bytes(model: &[u8], options_json: &str) -> Result<Vec<u8>, String> {
    let opts = parse_options(options_json)?;
    let artifact = edgeport_engine::convert(model, &opts, &mut |_| {}).map_err(|e| error_json(&e))?;
    Ok(artifact.bytes)
}

/// The engine error as JSON, always with `code`, `message` and `nodes`.
pub fn error_json(err: &EngineError) -> String {
    let mut v = serde_json::to_value(err).unwrap_or(Value::Null);
    if !v.is_object() {
        v = json!({ "detail": v });
    }
    if let Some(obj) = v.as_object_mut() {
        obj.entry("code").or_insert_with(|| Value::from(err.code()));
        obj.entry("message").or_insert_with(|| Value::from(err.to_string()));
        obj.entry("nodes").or_insert_with(|| json!([]));
    }
    v.to_string()
}

fn internal(e: &dyn std::fmt::Display) -> String {
    json!({ "code": "internal", "message": e.to_string(), "nodes": [] }).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Option<Vec<u8>> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name).join("model.onnx");
        std::fs::read(p).ok()
    }

    fn err_obj(e: &str) -> Value {
        serde_json::from_str(e).unwrap_or_else(|x| panic!("error is not JSON ({x}): {e}"))
    }

    #[test]
    fn options_parse() {
        assert!(parse_options("").is_ok());
        let o = parse_options(r#"{"to":"tflite","nhwc_io":true,"input_shapes":{"x":[1,3,224,224]}}"#).unwrap();
        assert!(o.nhwc_io);
        assert_eq!(o.input_shapes["x"], vec![1, 3, 224, 224]);
        let e = err_obj(&parse_options("{not json").unwrap_err());
        assert_eq!(e["code"], "invalid_options");
        assert!(e["nodes"].is_array());
    }

    #[test]
    fn garbage_is_a_json_error() {
        let e = err_obj(&convert_bytes(b"definitely not onnx", "").unwrap_err());
        assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{e}");
        assert!(e["message"].is_string() && e["nodes"].is_array(), "{e}");
        let e = err_obj(&inspect_json(&[], "").unwrap_err());
        assert!(e["code"].is_string(), "{e}");
    }

    #[test]
    fn converts_a_fixture_like_the_engine() {
        let Some(model) = fixture("mlp_gelu") else { return };
        let bytes = convert_bytes(&model, r#"{"to":"tflite"}"#).unwrap();
        assert_eq!(&bytes[4..8], b"TFL3");
        let direct = edgeport_engine::convert(&model, &ConvertOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(bytes, direct.bytes);
        let report: Value = serde_json::from_str(&inspect_json(&model, "").unwrap()).unwrap();
        assert!(report["inputs"].is_array(), "{report}");
    }
}
