//! `verify`: re-reads a produced artifact structurally, so a front end can show that the bytes it
//! offers are a well-formed file of their format. Not a numeric check: that needs a runtime.

use std::io::{Cursor, Read};

use serde::Serialize;

use crate::{EngineError, ErrorCode, Target};

/// What the structural check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// One line for people, e.g. "TFLite flatbuffer: 1 subgraph, 65 operators, 178 tensors".
    pub summary: String,
}

fn bad(message: String) -> EngineError {
    EngineError::new(ErrorCode::Internal, message)
}

/// Re-parses `bytes` as the artifact `target` produces: the `.tflite` flatbuffer (with the
/// flatbuffers verifier), the `.mlpackage` zip (every entry read back, CRC checked) or the
/// `.onnx` (imported again).
pub fn verify(target: Target, bytes: &[u8]) -> Result<Verified, EngineError> {
    match target {
        Target::Tflite => verify_tflite(bytes),
        Target::Coreml => verify_mlpackage_zip(bytes),
        Target::Onnx => verify_onnx(bytes),
    }
}

/// The exported model decodes as an ONNX `ModelProto` with a graph, the default opset, and
/// every node's inputs defined before use (quantized models hold QDQ pairs, which are for
/// ONNX Runtime, so the check is structural rather than a re-import).
fn verify_onnx(bytes: &[u8]) -> Result<Verified, EngineError> {
    use prost::Message;
    let model = edgeport_onnx::pb::ModelProto::decode(bytes).map_err(|e| bad(format!("verify: the .onnx does not decode: {e}")))?;
    let graph = model.graph.as_ref().ok_or_else(|| bad("verify: the .onnx has no graph".into()))?;
    let opset = model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version);
    let opset = opset.ok_or_else(|| bad("verify: the .onnx imports no default opset".into()))?;
    let mut defined: std::collections::BTreeSet<&str> = graph.input.iter().map(|v| v.name.as_str()).collect();
    defined.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for node in &graph.node {
        if let Some(missing) = node.input.iter().find(|i| !i.is_empty() && !defined.contains(i.as_str())) {
            return Err(bad(format!("verify: node '{}' reads '{missing}' before anything defines it", node.name)));
        }
        defined.extend(node.output.iter().map(String::as_str));
    }
    if let Some(out) = graph.output.iter().find(|o| !defined.contains(o.name.as_str())) {
        return Err(bad(format!("verify: graph output '{}' is never produced", out.name)));
    }
    Ok(Verified {
        summary: format!("ONNX model (IR v{}, opset {opset}): {} nodes, {} initializers, wired in order", model.ir_version, graph.node.len(), graph.initializer.len()),
    })
}

fn verify_tflite(bytes: &[u8]) -> Result<Verified, EngineError> {
    if bytes.get(4..8) != Some(b"TFL3".as_slice()) {
        return Err(bad("verify: the .tflite has no TFL3 identifier".into()));
    }
    let model = tract_tflite::tflite::root_as_model(bytes)
        .map_err(|e| bad(format!("verify: the .tflite flatbuffer does not parse: {e}")))?;
    let subgraphs = model.subgraphs().map(|s| s.len()).unwrap_or(0);
    if subgraphs == 0 {
        return Err(bad("verify: the .tflite has no subgraph".into()));
    }
    let (mut ops, mut tensors) = (0, 0);
    for sg in model.subgraphs().into_iter().flatten() {
        ops += sg.operators().map(|o| o.len()).unwrap_or(0);
        tensors += sg.tensors().map(|t| t.len()).unwrap_or(0);
    }
    let plural = if subgraphs == 1 { "" } else { "s" };
    Ok(Verified {
        summary: format!(
            "TFLite flatbuffer (schema v{}): {subgraphs} subgraph{plural}, {ops} operators, {tensors} tensors",
            model.version()
        ),
    })
}

/// The files every `.mlpackage` edgeport writes holds, below its top folder.
const MLPACKAGE_FILES: [&str; 2] = ["Manifest.json", "Data/com.apple.CoreML/model.mlmodel"];

fn verify_mlpackage_zip(bytes: &[u8]) -> Result<Verified, EngineError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("verify: the .mlpackage zip does not open: {e}")))?;
    let mut names = Vec::new();
    let mut manifest_ok = false;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(format!("verify: zip entry {i}: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if entry.is_dir() {
            continue;
        }
        // Reading to the end makes the zip crate check the entry's CRC-32.
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| bad(format!("verify: zip entry {name}: {e}")))?;
        if name.ends_with("/Manifest.json") {
            manifest_ok = serde_json::from_slice::<serde_json::Value>(&data).is_ok_and(|v| v["rootModelIdentifier"].is_string());
        }
        names.push(name);
    }
    for want in MLPACKAGE_FILES {
        if !names.iter().any(|n| n.ends_with(&format!(".mlpackage/{want}"))) {
            return Err(bad(format!("verify: the .mlpackage zip has no {want}")));
        }
    }
    if !manifest_ok {
        return Err(bad("verify: Manifest.json has no rootModelIdentifier".into()));
    }
    Ok(Verified { summary: format!(".mlpackage zip: {} files, CRCs and Manifest.json valid", names.len()) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        assert!(verify(Target::Tflite, b"nope").is_err());
        assert!(verify(Target::Tflite, b"\0\0\0\0TFL3\0\0\0\0").is_err());
        assert!(verify(Target::Coreml, b"PK\x03\x04 truncated").is_err());
    }

    #[test]
    fn accepts_what_convert_writes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mlp_gelu/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        for target in [Target::Tflite, Target::Coreml, Target::Onnx] {
            let opts = crate::ConvertOptions { target, ..Default::default() };
            let art = crate::convert(&model, &opts, &mut |_| {}).unwrap();
            let v = verify(target, &art.bytes).unwrap();
            assert!(!v.summary.is_empty());
            let mut cut = art.bytes.clone();
            cut.truncate(cut.len() / 2);
            assert!(verify(target, &cut).is_err(), "{target:?} truncated");
        }
    }
}
