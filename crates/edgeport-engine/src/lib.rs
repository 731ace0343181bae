//! The single entry point of the edgeport core. The CLI, the web app and the edge worker call
//! only this crate, so all three give the same results, errors and bytes.

mod error;
mod inspect;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use error::{EngineError, ErrorCode, NodeRef};
pub use inspect::{InspectReport, NodeStats, TensorInfo};

/// Output formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Tflite,
}

impl Target {
    pub fn extension(self) -> &'static str {
        match self {
            Target::Tflite => "tflite",
        }
    }
    pub fn media_type(self) -> &'static str {
        match self {
            Target::Tflite => "application/vnd.tflite",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tflite" => Ok(Target::Tflite),
            other => Err(EngineError::options(format!("unknown target '{other}' (supported: tflite)"))),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvertOptions {
    #[serde(rename = "to")]
    pub target: Target,
    /// Give rank-4 inputs and outputs an NHWC interface (as onnx2tf does).
    pub nhwc_io: bool,
    /// Static shapes for inputs whose dims are dynamic in the model.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
}

/// Pipeline stages reported to a progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Parse,
    Optimize,
    Export,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Optimize => "optimize",
            Stage::Export => "export",
        }
    }
}

/// A converted model.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub file_name: String,
    pub media_type: String,
    pub sha256: String,
    pub size: usize,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn import(model: &[u8], opts: &ConvertOptions) -> Result<edgeport_onnx::Imported, EngineError> {
    let import_opts = edgeport_onnx::ImportOptions { input_shapes: opts.input_shapes.clone() };
    edgeport_onnx::import(model, &import_opts).map_err(EngineError::from)
}

/// Summary of a model: interface, op histogram, parameters, per-node cost, memory.
pub fn inspect(model: &[u8], opts: &ConvertOptions) -> Result<InspectReport, EngineError> {
    let imported = import(model, opts)?;
    Ok(inspect::report(&imported, sha256_hex(model)))
}

/// Convert an ONNX model to `opts.target`, calling `progress` as each stage starts.
pub fn convert(model: &[u8], opts: &ConvertOptions, progress: &mut dyn FnMut(Stage)) -> Result<Artifact, EngineError> {
    progress(Stage::Parse);
    let imported = import(model, opts)?;
    let mut graph = imported.graph;
    progress(Stage::Optimize);
    edgeport_passes::optimize(&mut graph)?;
    let bytes = match opts.target {
        Target::Tflite => {
            edgeport_passes::to_nhwc(&mut graph, edgeport_passes::LayoutOptions { nhwc_io: opts.nhwc_io })?;
            progress(Stage::Export);
            edgeport_tflite::export(&graph, &edgeport_tflite::ExportOptions::default())?
        }
    };
    let stem = if graph.name.is_empty() { "model".to_string() } else { graph.name.clone() };
    Ok(Artifact {
        file_name: format!("{stem}.{}", opts.target.extension()),
        media_type: opts.target.media_type().to_string(),
        sha256: sha256_hex(&bytes),
        size: bytes.len(),
        bytes,
    })
}
