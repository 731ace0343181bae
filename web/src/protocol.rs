//! Messages between the playground page and its Web Worker.
//!
//! Each message is a JS object `{ json, bytes }`: `json` is one of these types as JSON and
//! `bytes` (a `Uint8Array`, or absent) carries the model or the artifact beside it, so megabytes
//! of data never go through serde.
//!
//! The page is built without the engine (see web/Cargo.toml), so [`Options`] mirrors the JSON of
//! the engine's `ConvertOptions`; the worker turns one into the other with
//! [`Options::to_engine`], and a test pins the two together.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sim_report::{ProfileInfo, Report, SimOptions};

/// Page -> worker. The model bytes travel beside the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    Inspect { id: u32, options: Options },
    Convert { id: u32, options: Options },
    /// The device profiles for the simulator's picker (no model needed).
    Profiles { id: u32 },
    /// Simulated latency on devices; `options` are the import options (input shapes).
    Simulate { id: u32, options: Options, simulate: SimOptions },
    /// Run the model's variants on the CPU (wasm) here and measure them.
    Measure { id: u32, options: Options, measure: MeasureOptions },
    /// What a lossy conversion with `options` computes against the float original (the
    /// runtime worker; calibration data, if any, travels beside the model).
    Fidelity { id: u32, options: Options },
}

/// What "Measure in this browser" runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureOptions {
    /// Variant names as the engine spells them (fp32, fp16).
    pub variants: Vec<String>,
    pub runs: usize,
    pub warmup: usize,
    /// "cpu" (WebAssembly) or "gpu" (WebGPU; the CPU stands in where there is no adapter).
    #[serde(default = "cpu")]
    pub backend: String,
}

fn cpu() -> String {
    "cpu".into()
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions { variants: vec!["fp32".into(), "fp16".into()], runs: 20, warmup: 3, backend: cpu() }
    }
}

/// One measured variant: the harness report (schema `edgeport.bench/1`, kept whole for share
/// links) and the figures the panel shows.
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
    /// The part of the load that built the executor (GPU: buffers, weights, pipelines).
    #[serde(default)]
    pub executor_ms: f64,
    /// Warm p50 from submission to outputs read back (equals p50 on the CPU).
    #[serde(default)]
    pub wall_p50_ms: f64,
    /// Against the fp32 original on the same inputs: worst output's max abs error and lowest
    /// cosine similarity, and the scale (max |reference|).
    pub max_abs_error: f64,
    pub cosine_similarity: f64,
    pub reference_max_abs: f64,
    pub report: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// What ran: "cpu" (WebAssembly, one thread, SIMD128) or "gpu" (WebGPU).
    pub backend: String,
    /// The WebGPU adapter (vendor, architecture, fallback flag, features, limits).
    #[serde(default)]
    pub adapter: Option<serde_json::Value>,
    /// "wall" or "gpu-timestamp": where the warm figures come from.
    #[serde(default)]
    pub timing: String,
    /// Why WebGPU was asked for but the CPU ran instead.
    #[serde(default)]
    pub fallback: Option<String>,
    pub user_agent: String,
    pub variants: Vec<MeasuredVariant>,
    /// What the run report (and so a share link) keeps of this measurement.
    pub measured: edgeport_report::Measured,
    /// Each variant other than fp32 against the fp32 original, output by output.
    pub fidelity: Vec<edgeport_report::Fidelity>,
}

/// Output formats (the engine's `Target`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Tflite,
    Coreml,
    Onnx,
}

impl Format {
    /// The artifact's file extension, as the engine names it.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tflite => "tflite",
            Format::Coreml => "mlpackage.zip",
            Format::Onnx => "onnx",
        }
    }

    /// The format's short name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tflite => "TFLite",
            Format::Coreml => "Core ML",
            Format::Onnx => "ONNX",
        }
    }
}

/// Core ML deployment targets (the engine's `CoremlTarget`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ios {
    Ios15,
    #[default]
    Ios16,
    Ios17,
    Ios18,
}

impl Ios {
    pub const ALL: [Ios; 4] = [Ios::Ios15, Ios::Ios16, Ios::Ios17, Ios::Ios18];

    pub fn key(self) -> &'static str {
        match self {
            Ios::Ios15 => "ios15",
            Ios::Ios16 => "ios16",
            Ios::Ios17 => "ios17",
            Ios::Ios18 => "ios18",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Ios::Ios15 => "iOS 15 / macOS 12",
            Ios::Ios16 => "iOS 16 / macOS 13",
            Ios::Ios17 => "iOS 17 / macOS 14",
            Ios::Ios18 => "iOS 18 / macOS 15",
        }
    }

    pub fn from_key(key: &str) -> Option<Ios> {
        Ios::ALL.into_iter().find(|i| i.key() == key)
    }
}

/// Compute precision (the engine's `Precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Fp16,
}

/// The conversion options, in the JSON shape of the engine's `ConvertOptions`; fields a target
/// does not take are left out, as the CLI leaves them out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    pub to: Format,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nhwc_io: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coreml_target: Option<Ios>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// `fp16`: TFLite weights stored as float16 (the engine's `Quantize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantize: Option<String>,
    /// The engine's `Palettize` (`{"bits": 4, "mode": "kmeans"}`), carried through unchanged so
    /// a share link re-runs the same conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub palettize: Option<serde_json::Value>,
    /// The engine's `Prune` (`{"sparsity": 0.5}`), carried through unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<serde_json::Value>,
    /// `quantize int8`: how activation ranges are chosen from the calibration samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_method: Option<CalibrationMethod>,
    /// `quantize int8`: ONNX node names kept in float (`auto`: the layers that lose the most).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_float: Vec<String>,
    /// `quantize int8`, TFLite: the element type of the model's inputs and outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<Interface>,
}

/// The engine's `CalibrationMethod`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationMethod {
    #[default]
    Minmax,
    Percentile,
    Mse,
}

impl CalibrationMethod {
    pub const ALL: [CalibrationMethod; 3] = [CalibrationMethod::Minmax, CalibrationMethod::Percentile, CalibrationMethod::Mse];

    pub fn key(self) -> &'static str {
        match self {
            CalibrationMethod::Minmax => "minmax",
            CalibrationMethod::Percentile => "percentile",
            CalibrationMethod::Mse => "mse",
        }
    }

    pub fn from_key(key: &str) -> Option<CalibrationMethod> {
        CalibrationMethod::ALL.into_iter().find(|m| m.key() == key)
    }
}

/// The engine's `Interface` (a full-integer TFLite model's input and output type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    #[default]
    Float32,
    Int8,
}

impl Options {
    /// Whether the artifact computes something other than the float original (so the page
    /// shows its fidelity). Core ML's fp16 precision counts only with weight compression, as
    /// the playground asks for fidelity after quantization and palettization.
    pub fn compresses_weights(&self) -> bool {
        self.quantize.is_some() || self.palettize.is_some() || self.prune.is_some()
    }

    /// Full-integer and W8A8 conversions calibrate on the CPU runtime, so they run in the
    /// runtime worker.
    pub fn calibrates(&self) -> bool {
        matches!(self.quantize.as_deref(), Some("int8" | "w8a8"))
    }
}

#[cfg(feature = "engine")]
impl Options {
    /// The engine's options (through their shared JSON form, so a field the engine does not know
    /// is an error here rather than silently dropped).
    pub fn to_engine(&self) -> Result<edgeport_engine::ConvertOptions, edgeport_engine::EngineError> {
        let json = serde_json::to_value(self).map_err(|e| edgeport_engine::EngineError::options(e.to_string()))?;
        serde_json::from_value(json).map_err(|e| edgeport_engine::EngineError::options(format!("options: {e}")))
    }
}

impl Request {
    pub fn id(&self) -> u32 {
        match self {
            Request::Inspect { id, .. }
            | Request::Convert { id, .. }
            | Request::Profiles { id }
            | Request::Simulate { id, .. }
            | Request::Measure { id, .. }
            | Request::Fidelity { id, .. } => *id,
        }
    }
}

/// Worker -> page. `Converted` has the artifact's bytes beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// The worker's wasm is loaded and it takes requests.
    Ready { version: String },
    Summary { id: u32, summary: Summary },
    /// A conversion stage started.
    Stage { id: u32, stage: StageName },
    Converted { id: u32, result: Converted },
    Profiles { id: u32, profiles: Vec<ProfileInfo> },
    /// Progress of a measurement: `stage` of `variant`, `done` of `total` steps.
    MeasureProgress { id: u32, variant: String, stage: String, done: usize, total: usize },
    Measured { id: u32, result: Box<Measurement> },
    /// The artifact's fidelity against the float original (`None`: the conversion is lossless).
    Fidelity { id: u32, fidelity: Option<Box<edgeport_report::Fidelity>> },
    /// The simulation report (schema `edgeport.simulation/1`).
    Simulated { id: u32, report: Box<Report> },
    Failed { id: u32, error: ErrorInfo },
}

/// The stages the page shows: the engine's three, then the worker's structural check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageName {
    Parse,
    Optimize,
    Export,
    Verify,
}

impl StageName {
    pub const ALL: [StageName; 4] = [StageName::Parse, StageName::Optimize, StageName::Export, StageName::Verify];

    pub fn key(self) -> &'static str {
        match self {
            StageName::Parse => "parse",
            StageName::Optimize => "optimize",
            StageName::Export => "export",
            StageName::Verify => "verify",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StageName::Parse => "Parse ONNX",
            StageName::Optimize => "Optimize graph",
            StageName::Export => "Export",
            StageName::Verify => "Verify file",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(feature = "engine")]
impl From<edgeport_engine::Stage> for StageName {
    fn from(s: edgeport_engine::Stage) -> Self {
        match s {
            edgeport_engine::Stage::Parse => StageName::Parse,
            edgeport_engine::Stage::Optimize => StageName::Optimize,
            edgeport_engine::Stage::Export => StageName::Export,
        }
    }
}

/// What the page shows about a model: the inspect report without its per-node table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
    /// ONNX op type and count, most frequent first.
    pub ops: Vec<(String, usize)>,
    pub params: usize,
    pub param_bytes: usize,
    pub macs: u64,
    pub flops: u64,
    pub peak_activation_bytes: u64,
    pub compute_nodes: usize,
    pub producer: String,
    pub ir_version: i64,
    pub opsets: Vec<(String, i64)>,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Io {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
}

#[cfg(feature = "engine")]
impl From<&edgeport_engine::InspectReport> for Summary {
    fn from(r: &edgeport_engine::InspectReport) -> Self {
        let io = |t: &edgeport_engine::TensorInfo| Io { name: t.name.clone(), dtype: t.dtype.to_string(), shape: t.shape.clone() };
        let mut ops: Vec<(String, usize)> = r.op_histogram.iter().map(|(k, v)| (k.clone(), *v)).collect();
        ops.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Summary {
            inputs: r.inputs.iter().map(io).collect(),
            outputs: r.outputs.iter().map(io).collect(),
            ops,
            params: r.params.count,
            param_bytes: r.params.bytes,
            macs: r.total.macs,
            flops: r.total.flops,
            peak_activation_bytes: r.peak_activation_bytes,
            compute_nodes: r.nodes.len(),
            producer: r.model.producer.clone(),
            ir_version: r.model.ir_version,
            opsets: r.model.opsets.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            sha256: r.model.sha256.clone(),
        }
    }
}

/// A finished conversion (the bytes travel beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Converted {
    pub media_type: String,
    pub size: usize,
    /// Computed in the worker, in Rust, over the bytes sent.
    pub sha256: String,
    /// The structural check's one-line finding.
    pub verified: String,
}

/// An engine error as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    pub nodes: Vec<NodeInfo>,
    /// The input whose dims the model leaves open, when that is the problem.
    pub dynamic_input: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub op: String,
    pub reason: String,
}

#[cfg(feature = "engine")]
impl From<&edgeport_engine::EngineError> for ErrorInfo {
    fn from(e: &edgeport_engine::EngineError) -> Self {
        ErrorInfo {
            code: e.code().to_string(),
            message: e.message.clone(),
            nodes: e
                .nodes
                .iter()
                .map(|n| NodeInfo { name: n.name.clone(), op: n.op.clone(), reason: n.reason.clone() })
                .collect(),
            dynamic_input: dynamic_input(&e.message),
        }
    }
}

impl ErrorInfo {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorInfo { code: code.to_string(), message: message.into(), nodes: Vec::new(), dynamic_input: None }
    }
}

/// The input named by the importer's "input 'x' has dynamic dim ..." error.
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
fn dynamic_input(message: &str) -> Option<String> {
    let rest = message.split("input '").nth(1)?;
    let (name, tail) = rest.split_once('\'')?;
    tail.trim_start().starts_with("has dynamic dim").then(|| name.to_string())
}

/// Parses the page's input-shape field: `x=1,3,224,224; mask=1,16` (`;` or new lines between
/// inputs, `,`, `x` or spaces between dims).
pub fn parse_shapes(text: &str) -> Result<BTreeMap<String, Vec<usize>>, String> {
    let mut out = BTreeMap::new();
    for part in text.split([';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, dims)) = part.split_once('=') else {
            return Err(format!("\"{part}\" should look like name=1,3,224,224"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("\"{part}\" has no input name before '='"));
        }
        let dims: Result<Vec<usize>, _> = dims
            .split([',', 'x', ' '])
            .filter(|d| !d.trim().is_empty())
            .map(|d| d.trim().parse::<usize>().ok().filter(|&n| n > 0).ok_or(d.trim().to_string()))
            .collect();
        match dims {
            Ok(d) if !d.is_empty() => {
                out.insert(name.to_string(), d);
            }
            Ok(_) => return Err(format!("\"{part}\" lists no dims")),
            Err(bad) => return Err(format!("\"{part}\": dim \"{bad}\" is not a positive whole number")),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse() {
        let s = parse_shapes(" x = 1,3,224,224 ; mask=1 16\n").unwrap();
        assert_eq!(s["x"], vec![1, 3, 224, 224]);
        assert_eq!(s["mask"], vec![1, 16]);
        assert!(parse_shapes("").unwrap().is_empty());
        assert!(parse_shapes("x").is_err());
        assert!(parse_shapes("x=1,0").is_err());
        assert!(parse_shapes("x=1,-3").is_err());
        assert!(parse_shapes("=1,2").is_err());
    }

    #[test]
    fn dynamic_input_is_found() {
        let m = "input 'x' has dynamic dim 'N' at axis 0; pass --input-shape x=...";
        assert_eq!(dynamic_input(m).as_deref(), Some("x"));
        assert_eq!(dynamic_input("input 'x' is fine"), None);
    }

    #[test]
    fn messages_round_trip() {
        let r = Reply::Stage { id: 3, stage: StageName::Verify };
        let back: Reply = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let q = Request::Convert { id: 1, options: Options::default() };
        let back: Request = serde_json::from_str(&serde_json::to_string(&q).unwrap()).unwrap();
        assert_eq!(back, q);
    }

    /// The page's options mean the same to the engine as the CLI's flags.
    #[cfg(feature = "engine")]
    #[test]
    fn options_reach_the_engine() {
        use edgeport_engine::{ConvertOptions, CoremlTarget, Target};
        assert_eq!(Options::default().to_engine().unwrap(), ConvertOptions::default());
        let o = Options { nhwc_io: true, input_shapes: [("x".to_string(), vec![2, 4])].into(), ..Options::default() };
        let e = o.to_engine().unwrap();
        assert!(e.nhwc_io && e.input_shapes["x"] == vec![2, 4]);
        for (ios, want) in Ios::ALL.into_iter().zip([CoremlTarget::Ios15, CoremlTarget::Ios16, CoremlTarget::Ios17, CoremlTarget::Ios18]) {
            for (p, wp) in [(Precision::Fp16, edgeport_engine::Precision::Fp16), (Precision::Fp32, edgeport_engine::Precision::Fp32)] {
                let o = Options { to: Format::Coreml, coreml_target: Some(ios), precision: Some(p), ..Options::default() };
                let e = o.to_engine().unwrap();
                assert_eq!((e.target, e.coreml_target, e.precision), (Target::Coreml, Some(want), Some(wp)));
                assert_eq!(Format::Coreml.extension(), Target::Coreml.extension());
            }
        }
        assert_eq!(Format::Tflite.extension(), Target::Tflite.extension());
        assert_eq!(Format::Onnx.extension(), Target::Onnx.extension());
        assert_eq!(Options { to: Format::Onnx, ..Options::default() }.to_engine().unwrap().target, Target::Onnx);
    }

    /// The quantization choices mean to the engine what `--quantize`, `--calibration-method`,
    /// `--keep-float`, `--interface` and `--palettize` mean to the CLI.
    #[cfg(feature = "engine")]
    #[test]
    fn quantization_options_reach_the_engine() {
        use edgeport_engine::quantize::CalibrationMethod as Method;
        use edgeport_engine::{Interface as EngineInterface, Quantize};
        for (q, want) in [("fp16", Quantize::Fp16), ("int8-weights", Quantize::Int8Weights), ("int8", Quantize::Int8), ("w8a8", Quantize::W8a8)] {
            let o = Options { quantize: Some(q.into()), ..Options::default() };
            assert_eq!(o.to_engine().unwrap().quantize, Some(want));
        }
        for (m, want) in CalibrationMethod::ALL.into_iter().zip([Method::Minmax, Method::Percentile, Method::Mse]) {
            assert_eq!(CalibrationMethod::from_key(m.key()), Some(m));
            assert_eq!(m.key(), want.name());
            for (i, wi) in [(Interface::Float32, EngineInterface::Float32), (Interface::Int8, EngineInterface::Int8)] {
                let o = Options {
                    quantize: Some("int8".into()),
                    calibration_method: Some(m),
                    interface: Some(i),
                    keep_float: vec!["auto".into(), "conv_1".into()],
                    ..Options::default()
                };
                let e = o.to_engine().unwrap();
                assert_eq!((e.calibration_method, e.interface), (Some(want), Some(wi)));
                assert_eq!(e.keep_float, ["auto", "conv_1"]);
                // and back: the page reads the engine's JSON (a CLI-made share link) as the same options
                let back: Options = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
                assert_eq!(back.to_engine().unwrap(), e);
            }
        }
        let o = Options { to: Format::Coreml, palettize: Some(serde_json::json!({"bits": 4, "mode": "uniform"})), ..Options::default() };
        assert_eq!(o.to_engine().unwrap().palettize, Some("4:uniform".parse().unwrap()));
        let o = Options { to: Format::Coreml, prune: Some(serde_json::json!({"sparsity": 0.5})), ..Options::default() };
        assert_eq!(o.to_engine().unwrap().prune, Some("0.5".parse().unwrap()));
    }
}
