//! Share links: a [`ShareRecord`] as JSON, raw deflate (`miniz_oxide`) and base64url without
//! padding, in the URL fragment `#r=...`. A fragment is never sent to a server, so a link carries
//! the report without anything leaving the browser. Links are outside data: every decode step
//! returns an error that says what is wrong, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::protocol::Options;
use crate::sim_report::Report;

/// The record format this build writes and reads.
pub const SHARE_FORMAT: u32 = 1;
/// The fragment's key: `#r=<payload>`.
pub const FRAGMENT_KEY: &str = "r=";
/// A decoded record larger than this is refused (a tiny link must not inflate to gigabytes).
const MAX_INFLATED: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub v: u32,
    pub edgeport_version: String,
    pub model: SharedModel,
    /// The last conversion, if one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<SharedConversion>,
    /// The last simulation, without per-layer placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SharedSimulation>,
    /// In-browser measurements; none are taken yet, so always empty.
    #[serde(default)]
    pub measured: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedModel {
    /// The file name the user gave.
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedConversion {
    pub options: Options,
    pub file_name: String,
    pub sha256: String,
    pub size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedSimulation {
    /// Import options (input shapes) the simulation ran with.
    pub options: Options,
    pub report: Report,
}

impl ShareRecord {
    /// The version note to show when the link was made by another edgeport.
    pub fn version_note(&self) -> Option<String> {
        let here = env!("CARGO_PKG_VERSION");
        (self.edgeport_version != here).then(|| {
            format!("This link was made by edgeport {}; this is edgeport {here}, so re-run results may differ.", self.edgeport_version)
        })
    }
}

/// The fragment payload (after `#r=`) for a record.
pub fn encode(record: &ShareRecord) -> Result<String, String> {
    let json = serde_json::to_vec(record).map_err(|e| format!("could not write the share record: {e}"))?;
    let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
    Ok(URL_SAFE_NO_PAD.encode(packed))
}

/// Reads a fragment (`#r=...`, `r=...` or the bare payload); the error completes the sentence
/// "this share link is damaged: ...".
pub fn decode(fragment: &str) -> Result<ShareRecord, String> {
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
        serde_json::from_slice(&json).map_err(|e| format!("its record is not readable JSON ({e})"))?;
    let version = value.get("v").and_then(serde_json::Value::as_u64);
    match version {
        Some(v) if v == u64::from(SHARE_FORMAT) => {}
        Some(v) => return Err(format!("it uses share format {v}, and this edgeport reads format {SHARE_FORMAT}")),
        None => return Err("its record has no format version".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("its record is incomplete ({e})"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn record() -> ShareRecord {
        ShareRecord {
            v: SHARE_FORMAT,
            edgeport_version: env!("CARGO_PKG_VERSION").into(),
            model: SharedModel { name: "m.onnx".into(), sha256: "ab".repeat(32), bytes: 1234 },
            conversion: Some(SharedConversion {
                options: Options::default(),
                file_name: "m.tflite".into(),
                sha256: "cd".repeat(32),
                size: 99,
            }),
            simulation: None,
            measured: Vec::new(),
        }
    }

    #[test]
    fn round_trip() {
        let r = record();
        let payload = encode(&r).unwrap();
        assert!(payload.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{payload}");
        assert_eq!(decode(&payload).unwrap(), r);
        assert_eq!(decode(&format!("#r={payload}")).unwrap(), r);
        assert_eq!(r.version_note(), None);
    }

    #[test]
    fn truncated_links_are_refused() {
        let payload = encode(&record()).unwrap();
        for cut in [1, payload.len() / 2, payload.len() - 3] {
            let err = decode(&payload[..cut]).unwrap_err();
            assert!(!err.is_empty(), "cut at {cut}");
        }
        assert!(decode("#r=").unwrap_err().contains("no report"));
    }

    #[test]
    fn garbage_is_refused() {
        for junk in ["#r=!!!not base64!!!", "#r=AAAA", "#r=hello-world_", "#whatever"] {
            assert!(decode(junk).is_err(), "{junk}");
        }
        // Valid deflate of something that is not a record.
        let not_json = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(b"[1,2", 6));
        assert!(decode(&not_json).unwrap_err().contains("JSON"));
        let no_model = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(br#"{"v":1}"#, 6));
        assert!(decode(&no_model).unwrap_err().contains("incomplete"));
        // A small link that inflates past the limit.
        let bomb = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&vec![b' '; MAX_INFLATED + 10], 9));
        assert!(decode(&bomb).is_err());
    }

    #[test]
    fn versions() {
        let mut r = record();
        r.edgeport_version = "0.0.1-old".into();
        let back = decode(&encode(&r).unwrap()).unwrap();
        assert!(back.version_note().unwrap().contains("0.0.1-old"));
        let mut v: serde_json::Value = serde_json::to_value(record()).unwrap();
        v["v"] = 2.into();
        let payload = URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(v.to_string().as_bytes(), 6));
        assert!(decode(&payload).unwrap_err().contains("format 2"));
    }

    /// mobilenetv2 simulated on every profile still fits in a link under 8 KB.
    #[cfg(feature = "engine")]
    #[test]
    fn mobilenet_on_every_profile_fits() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mobilenetv2/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        let engine = edgeport_engine::simulate::simulate(&model, &Default::default(), &Default::default()).unwrap();
        let report = crate::sim_report::report_from_engine(&engine).unwrap().without_placement();
        assert!(report.results.len() > 40);
        let mut r = record();
        r.simulation = Some(SharedSimulation { options: Options::default(), report });
        let link = format!("http://127.0.0.1:8080/#r={}", encode(&r).unwrap());
        println!("share link for mobilenetv2 on every profile: {} characters", link.len());
        assert!(link.len() < 8192, "{}", link.len());
        assert_eq!(decode(link.split_once('#').unwrap().1).unwrap(), r);
    }
}
