//! The run report: everything one run of edgeport produces about a model, in one versioned JSON
//! schema (`edgeport.report/1`). The model (name, sha256, size), the artifact a conversion made,
//! the fidelity of each variant against the float original, the simulated latency per device and
//! the latency measured by the harness. The CLI writes it (`--report FILE.json`), the edge worker
//! returns it, and a share link is this JSON, deflated, in the URL's fragment ([`link`]).
//!
//! The report is generic over the conversion options and the simulation report, because the
//! playground's page is built without the engine and reads them through JSON mirrors of the
//! engine's types; both sides share everything else from here.

pub mod link;

use serde::{Deserialize, Serialize};

/// The schema this build writes and reads.
pub const SCHEMA: &str = "edgeport.report/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report<O, S> {
    pub schema: String,
    pub edgeport_version: String,
    pub model: ModelRecord,
    /// The last conversion, if one was made.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Conversion<O>>,
    /// Each variant's outputs against the float original's on the same inputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fidelity: Vec<Fidelity>,
    /// The last simulation; a share link leaves its per-layer placement out (it is recomputed).
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub simulation: Option<Simulation<O, S>>,
    /// Latency measured by the harness, per backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measured: Vec<Measured>,
}

fn none<T>() -> Option<T> {
    None
}

impl<O, S> Report<O, S> {
    /// An empty report about a model, written by this build.
    pub fn new(model: ModelRecord) -> Self {
        Report {
            schema: SCHEMA.to_string(),
            edgeport_version: env!("CARGO_PKG_VERSION").to_string(),
            model,
            conversion: None,
            fidelity: Vec::new(),
            simulation: None,
            measured: Vec::new(),
        }
    }

    /// The note to show when the report was made by another edgeport version.
    pub fn version_note(&self) -> Option<String> {
        let here = env!("CARGO_PKG_VERSION");
        (self.edgeport_version != here).then(|| {
            format!(
                "This report was made by edgeport {}; this is edgeport {here}, so re-run results may differ.",
                self.edgeport_version
            )
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The file name the user gave (or the model's graph name).
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversion<O> {
    pub options: O,
    pub file_name: String,
    pub sha256: String,
    pub size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation<O, S> {
    /// The import options (input shapes) the simulation ran with.
    pub options: O,
    pub report: S,
}

/// How far one variant's outputs are from the float original's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// The variant (fp32, fp16, ...).
    pub variant: String,
    /// What produced the numbers, e.g. "edgeport-cpu, weights as stored, float32 compute".
    pub method: String,
    /// Where the inputs came from ("generated": seeded samples, or the user's file).
    pub inputs: String,
    pub samples: usize,
    pub outputs: Vec<OutputFidelity>,
    /// Per layer: the SQNR of its output against the float original's, over the same samples,
    /// worst first (at most [`MAX_LAYERS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerFidelity>,
    /// Full-integer models: the nodes left in float, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_float: Vec<KeptFloat>,
}

/// Layers a fidelity report lists (the worst ones).
pub const MAX_LAYERS: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerFidelity {
    pub node: String,
    pub op: String,
    /// The node's output value.
    pub output: String,
    /// Absent when the layer's output equals the original's.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub sqnr_db: Option<f64>,
    /// Runs on int8 tensors (full-integer models).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub int8: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptFloat {
    pub node: String,
    pub op: String,
    pub reason: String,
}

impl Fidelity {
    /// The worst output: largest max abs error, smallest cosine.
    pub fn worst(&self) -> Option<&OutputFidelity> {
        self.outputs.iter().max_by(|a, b| a.max_abs_error.total_cmp(&b.max_abs_error))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFidelity {
    pub output: String,
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    pub cosine_similarity: f64,
    /// Signal to quantization noise, in dB; absent when the outputs are identical.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub sqnr_db: Option<f64>,
    /// max |reference|, the scale the errors are relative to.
    pub reference_max_abs: f64,
    /// For class scores (`[rows, classes]` or `[batch, rows, classes]`): the share of rows whose
    /// top class is the reference's, and whose top five hold the reference's top class.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub top1_agreement: Option<f64>,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub top5_agreement: Option<f64>,
}

/// One backend's measurements (the harness's `edgeport.bench/1` reports, without their samples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// "cpu" or "gpu".
    pub backend: String,
    pub environment: Environment,
    pub warmup: usize,
    pub variants: Vec<MeasuredVariant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredVariant {
    pub variant: String,
    pub load_ms: f64,
    pub first_run_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub std_ms: f64,
    pub runs: usize,
    pub peak_memory_bytes: u64,
}

/// Where a measurement ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Environment {
    /// "native" or "wasm".
    pub runtime: String,
    pub os: String,
    pub arch: String,
    pub threads: usize,
    /// The browser's user agent (wasm in a browser).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// GPU adapter (vendor, architecture, fallback flag, limits) for the gpu backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<serde_json::Value>,
    pub edgeport_version: String,
}

impl Environment {
    /// The environment this code runs in (the caller adds user agent and adapter).
    pub fn current(threads: usize) -> Environment {
        Environment {
            runtime: if cfg!(target_arch = "wasm32") { "wasm" } else { "native" }.into(),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            threads: threads.max(1),
            user_agent: None,
            adapter: None,
            edgeport_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}
