//! Share links: a report as JSON, raw deflate (`miniz_oxide`) and base64url without padding, in
//! the URL fragment `#r=...`. A fragment is never sent to a server, so a link carries the report
//! without anything leaving the browser. Links are outside data: every decode step returns an
//! error that says what is wrong, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SCHEMA;

/// The fragment's key: `#r=<payload>`.
pub const FRAGMENT_KEY: &str = "r=";
/// A decoded report larger than this is refused (a tiny link must not inflate to gigabytes).
pub const MAX_INFLATED: usize = 4 << 20;

/// The fragment payload (after `#r=`) for a report.
pub fn encode<T: Serialize>(report: &T) -> Result<String, String> {
    let json = serde_json::to_vec(report).map_err(|e| format!("could not write the report: {e}"))?;
    let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
    Ok(URL_SAFE_NO_PAD.encode(packed))
}

/// Reads a fragment (`#r=...`, `r=...` or the bare payload); the error completes the sentence
/// "this share link is damaged: ...".
pub fn decode<T: DeserializeOwned>(fragment: &str) -> Result<T, String> {
    let payload = fragment.trim().trim_start_matches('#');
    let payload = payload.strip_prefix(FRAGMENT_KEY).unwrap_or(payload);
    if payload.is_empty() {
        return Err("it carries no report".into());
    }
    let packed = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| format!("it is not valid base64url ({}); was it cut short or edited?", e.to_string().trim_end_matches('.')))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_INFLATED)
        .map_err(|e| format!("its compressed data is incomplete or corrupt ({:?}); was it cut short?", e.status))?;
    let value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| format!("its report is not readable JSON ({e})"))?;
    match value.get("schema").and_then(serde_json::Value::as_str) {
        Some(SCHEMA) => {}
        Some(other) => return Err(format!("it holds a report of schema {other}, and this edgeport reads {SCHEMA}")),
        None => return Err("its report names no schema".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("its report is incomplete ({e})"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{Conversion, Fidelity, ModelRecord, OutputFidelity, Report};

    type R = Report<serde_json::Value, serde_json::Value>;

    fn report() -> R {
        let mut r = R::new(ModelRecord { name: "m.onnx".into(), sha256: "ab".repeat(32), bytes: 1234 });
        r.conversion = Some(Conversion {
            options: serde_json::json!({"to": "tflite"}),
            file_name: "m.tflite".into(),
            sha256: "cd".repeat(32),
            size: 99,
        });
        r.fidelity.push(Fidelity {
            variant: "fp16".into(),
            method: "test".into(),
            inputs: "generated".into(),
            samples: 1,
            outputs: vec![OutputFidelity {
                output: "y".into(),
                max_abs_error: 1e-3,
                mean_abs_error: 1e-4,
                cosine_similarity: 0.999_999,
                sqnr_db: Some(61.5),
                reference_max_abs: 3.0,
                top1_agreement: Some(1.0),
                top5_agreement: None,
            }],
            layers: Vec::new(),
            kept_float: Vec::new(),
        });
        r
    }

    fn pack(json: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(json, 6))
    }

    #[test]
    fn round_trip() {
        let r = report();
        let payload = encode(&r).unwrap();
        assert!(payload.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{payload}");
        assert_eq!(decode::<R>(&payload).unwrap(), r);
        assert_eq!(decode::<R>(&format!("#r={payload}")).unwrap(), r);
        assert_eq!(r.version_note(), None);
    }

    #[test]
    fn truncated_links_are_refused() {
        let payload = encode(&report()).unwrap();
        for cut in [1, payload.len() / 2, payload.len() - 3] {
            assert!(!decode::<R>(&payload[..cut]).unwrap_err().is_empty(), "cut at {cut}");
        }
        assert!(decode::<R>("#r=").unwrap_err().contains("no report"));
    }

    #[test]
    fn garbage_is_refused() {
        for junk in ["#r=!!!not base64!!!", "#r=AAAA", "#r=hello-world_", "#whatever"] {
            assert!(decode::<R>(junk).is_err(), "{junk}");
        }
        assert!(decode::<R>(&pack(b"[1,2")).unwrap_err().contains("JSON"));
        assert!(decode::<R>(&pack(br#"{"schema":"edgeport.report/1"}"#)).unwrap_err().contains("incomplete"));
        assert!(decode::<R>(&pack(br#"{"v":1}"#)).unwrap_err().contains("no schema"));
        // A small link that inflates past the limit.
        let bomb = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&vec![b' '; MAX_INFLATED + 10], 9));
        assert!(decode::<R>(&bomb).is_err());
    }

    #[test]
    fn versions() {
        let mut r = report();
        r.edgeport_version = "0.0.1-old".into();
        let back: R = decode(&encode(&r).unwrap()).unwrap();
        assert!(back.version_note().unwrap().contains("0.0.1-old"));
        let mut v = serde_json::to_value(report()).unwrap();
        v["schema"] = "edgeport.report/2".into();
        assert!(decode::<R>(&pack(v.to_string().as_bytes())).unwrap_err().contains("edgeport.report/2"));
    }
}
