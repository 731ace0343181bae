//! The single entry point of the edgeport core. The CLI, the web app and the edge worker call
//! only this crate, so all three give the same results, errors and bytes.

mod coreml;
mod error;
#[cfg(feature = "images")]
pub mod images;
pub mod exec;
mod inspect;
pub mod npz;
pub mod quantize;
pub mod report;
pub mod runtime;
pub mod simulate;
mod verify;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use coreml::{CoremlTarget, FP32_OPS_AUTO, ModelMetadata, Precision, SOURCE_SHA256_KEY, VERSION_KEY};
pub use error::{EngineError, ErrorCode, NodeRef};
pub use inspect::{InspectReport, NodeStats, TensorInfo};
pub use quantize::{Calibration, CalibrationMethod};
pub use verify::{Verified, verify};

/// Output formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Tflite,
    /// Core ML ML Program; the artifact is the zipped `.mlpackage`.
    Coreml,
    /// ONNX (opset 21) for ONNX Runtime Mobile: the optimized graph, with QDQ pairs when
    /// quantized.
    Onnx,
}

impl Target {
    pub fn extension(self) -> &'static str {
        match self {
            Target::Tflite => "tflite",
            Target::Coreml => "mlpackage.zip",
            Target::Onnx => "onnx",
        }
    }
    pub fn media_type(self) -> &'static str {
        match self {
            Target::Tflite => "application/vnd.tflite",
            Target::Coreml => "application/zip",
            Target::Onnx => "application/onnx",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tflite" => Ok(Target::Tflite),
            "coreml" => Ok(Target::Coreml),
            "onnx" => Ok(Target::Onnx),
            other => Err(EngineError::options(format!("unknown target '{other}' (supported: tflite, coreml, onnx)"))),
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
    /// Core ML deployment target (default ios16); Core ML only.
    pub coreml_target: Option<CoremlTarget>,
    /// Compute precision; default per format (Core ML fp16 as coremltools, TFLite fp32).
    pub precision: Option<Precision>,
    /// Core ML fp16 only: nodes that stay float32. Absent: the automatic rule (large-weight
    /// layers and everything upstream of them); otherwise ONNX node names, where `auto` adds
    /// the automatic rule and an empty list means pure fp16.
    pub fp32_ops: Option<Vec<String>>,
    /// Model metadata (author, description, version, license, user-defined keys); Core ML only.
    pub metadata: ModelMetadata,
    /// Quantization: `fp16` stores TFLite weights as float16 behind DEQUANTIZE ops (as TFLite's
    /// float16 quantization does) and makes a Core ML program fp16; `int8-weights` stores
    /// convolution and matmul weights as per-channel symmetric int8 (Core ML iOS16+; TFLite
    /// hybrid kernels; ONNX DequantizeLinear).
    pub quantize: Option<Quantize>,
    /// Palettization: weights take their values from a table of `2^bits` entries (Core ML,
    /// iOS16/17 `constexpr_lut_to_dense`).
    pub palettize: Option<Palettize>,
    /// Magnitude pruning: the smallest weights become zeros, stored sparse in Core ML
    /// (`constexpr_sparse_to_dense`; joint with int8 or palettes from iOS18) and as dense zeros
    /// elsewhere.
    pub prune: Option<Prune>,
    /// `quantize int8`: how activation ranges are chosen from the calibration samples.
    pub calibration_method: Option<CalibrationMethod>,
    /// `quantize int8`: node names kept in float.
    pub keep_float: Vec<String>,
    /// `quantize int8` (TFLite): the model's interface, float32 (QUANTIZE / DEQUANTIZE inside
    /// the model, the default) or int8 (like TFLite's `inference_input_type = int8`).
    pub interface: Option<Interface>,
}

/// The element type of a full-integer model's inputs and outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    #[default]
    Float32,
    Int8,
}

impl std::str::FromStr for Interface {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "float32" => Ok(Interface::Float32),
            "int8" => Ok(Interface::Int8),
            other => Err(EngineError::options(format!("unknown interface '{other}' (supported: float32, int8)"))),
        }
    }
}

/// `--palettize BITS[:kmeans|uniform][:gN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Palettize {
    pub bits: u8,
    #[serde(default)]
    pub mode: PaletteMode,
    /// One table per this many output channels (Core ML iOS18); absent: one per tensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaletteMode {
    #[default]
    Kmeans,
    Uniform,
}

impl Palettize {
    pub fn label(self) -> String {
        let mode = match self.mode {
            PaletteMode::Kmeans => "kmeans",
            PaletteMode::Uniform => "uniform",
        };
        match self.group {
            Some(g) => format!("palettize{}-{mode}-g{g}", self.bits),
            None => format!("palettize{}-{mode}", self.bits),
        }
    }

    fn check(self) -> Result<(), EngineError> {
        if !edgeport_quant::palette::BITS.contains(&self.bits) {
            return Err(EngineError::options(format!(
                "{}-bit palettization is not supported (1, 2, 3, 4, 6 or 8 bits)",
                self.bits
            )));
        }
        if self.group == Some(0) {
            return Err(EngineError::options("palettize group size must be at least 1 channel"));
        }
        Ok(())
    }

    /// Applies the palette pass to `graph`.
    /// `keep_zeros`: the weights were pruned; their zeros stay (the tables hold the rest).
    pub(crate) fn apply(self, graph: &mut edgeport_ir::Graph, keep_zeros: bool) {
        let mode = match self.mode {
            PaletteMode::Kmeans => edgeport_quant::palette::Mode::Kmeans,
            PaletteMode::Uniform => edgeport_quant::palette::Mode::Uniform,
        };
        edgeport_quant::palette::palettize_weights(graph, self.bits, mode, self.group.map(usize::from), keep_zeros);
    }
}

impl std::str::FromStr for Palettize {
    type Err = EngineError;
    /// `BITS`, then optionally `:kmeans` / `:uniform` and `:gN` (a table per N output channels).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || EngineError::options(format!("palettize '{s}': expected BITS[:kmeans|uniform][:gN], e.g. 4, 6:uniform or 4:kmeans:g16"));
        let mut parts = s.split(':').map(str::trim);
        let bits: u8 = parts.next().and_then(|b| b.parse().ok()).ok_or_else(bad)?;
        let mut p = Palettize { bits, mode: PaletteMode::Kmeans, group: None };
        for part in parts {
            match part {
                "kmeans" => p.mode = PaletteMode::Kmeans,
                "uniform" => p.mode = PaletteMode::Uniform,
                g if g.starts_with('g') => p.group = Some(g[1..].parse().map_err(|_| bad())?),
                other => return Err(EngineError::options(format!("palettize mode '{other}' (supported: kmeans, uniform, gN)"))),
            }
        }
        p.check()?;
        Ok(p)
    }
}

/// `--prune SPARSITY` (a fraction of each weight tensor, in [0, 1)) or `--prune threshold:T`
/// (every weight with |w| < T).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prune {
    Sparsity(f32),
    Threshold(f32),
}

impl Prune {
    fn pass(self) -> edgeport_quant::prune::Prune {
        match self {
            Prune::Sparsity(s) => edgeport_quant::prune::Prune::Sparsity(s),
            Prune::Threshold(t) => edgeport_quant::prune::Prune::Threshold(t),
        }
    }

    pub fn label(self) -> String {
        match self {
            Prune::Sparsity(s) => format!("prune{}", (f64::from(s) * 100.0).round()),
            Prune::Threshold(t) => format!("prune<{t}"),
        }
    }

    fn check(self) -> Result<(), EngineError> {
        self.pass().check().map_err(|e| EngineError::options(format!("prune: {e}")))
    }

    /// Applies the pruning pass to `graph`.
    pub(crate) fn apply(self, graph: &mut edgeport_ir::Graph) {
        edgeport_quant::prune::prune_weights(graph, self.pass());
    }
}

impl std::str::FromStr for Prune {
    type Err = EngineError;
    /// `SPARSITY` (e.g. 0.5) or `threshold:T`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || EngineError::options(format!("prune '{s}': expected a sparsity in [0, 1) such as 0.5, or threshold:T"));
        let p = match s.trim().split_once(':') {
            Some(("threshold", t)) => Prune::Threshold(t.trim().parse().map_err(|_| bad())?),
            Some(_) => return Err(bad()),
            None => Prune::Sparsity(s.trim().parse().map_err(|_| bad())?),
        };
        p.check()?;
        Ok(p)
    }
}

/// Quantization methods (`--quantize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quantize {
    Fp16,
    Int8Weights,
    /// Full-integer: int8 weights and activations, calibrated (TFLite, ONNX QDQ).
    Int8,
    /// Core ML (iOS17+): int8 weights and int8 activations between ops (`quantize` /
    /// `dequantize`), calibrated as `Int8` is.
    W8a8,
}

impl Quantize {
    pub fn name(self) -> &'static str {
        match self {
            Quantize::Fp16 => "fp16",
            Quantize::Int8Weights => "int8-weights",
            Quantize::Int8 => "int8",
            Quantize::W8a8 => "w8a8",
        }
    }

    /// Whether activations are quantized too, with ranges from calibration.
    pub fn is_calibrated(self) -> bool {
        matches!(self, Quantize::Int8 | Quantize::W8a8)
    }
}

impl std::str::FromStr for Quantize {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp16" => Ok(Quantize::Fp16),
            "int8-weights" => Ok(Quantize::Int8Weights),
            "int8" => Ok(Quantize::Int8),
            "w8a8" => Ok(Quantize::W8a8),
            other => Err(EngineError::options(format!("unknown quantization '{other}' (supported: fp16, int8-weights, int8, w8a8)"))),
        }
    }
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
    /// For directory formats (Core ML's `.mlpackage`): the directory whose zip `bytes` holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<ArtifactDirectory>,
}

/// A directory artifact: its name and files (paths relative to it, sorted).
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactDirectory {
    pub name: String,
    pub files: Vec<ArtifactFile>,
}

/// One file of a directory artifact.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactFile {
    pub path: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub size: usize,
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn import(model: &[u8], opts: &ConvertOptions) -> Result<edgeport_onnx::Imported, EngineError> {
    let import_opts = edgeport_onnx::ImportOptions { input_shapes: opts.input_shapes.clone() };
    edgeport_onnx::import(model, &import_opts).map_err(EngineError::from)
}

/// Options that only some targets take are refused elsewhere rather than ignored.
fn check_options(opts: &ConvertOptions) -> Result<(), EngineError> {
    if opts.target != Target::Coreml {
        if opts.coreml_target.is_some() {
            return Err(EngineError::options("coreml_target applies to the coreml target only"));
        }
        if !opts.metadata.is_empty() {
            return Err(EngineError::options("metadata applies to the coreml target only"));
        }
        if opts.precision == Some(Precision::Fp16) {
            return Err(EngineError::options(format!(
                "precision fp16 is not supported for {} (it computes in float32; quantize fp16 stores float16 weights)",
                opts.target.extension()
            )));
        }
    }
    if let Some(p) = opts.palettize {
        p.check()?;
        if opts.target == Target::Tflite {
            return Err(EngineError::options(
                "palettization is a Core ML weight format (constexpr_lut_to_dense); TFLite stores no lookup tables: use quantize fp16, or --to coreml",
            ));
        }
        if opts.quantize == Some(Quantize::Int8Weights) {
            return Err(EngineError::new(ErrorCode::Unsupported, "palettization with int8 weights (int8 tables) is not available yet"));
        }
    }
    let int8 = opts.quantize.is_some_and(Quantize::is_calibrated);
    if opts.quantize == Some(Quantize::Int8) && opts.target == Target::Coreml {
        return Err(EngineError::new(
            ErrorCode::Unsupported,
            "quantize int8 (full-integer) is available for tflite and onnx; for coreml use w8a8 (int8 activations between float ops, iOS17+) or int8-weights",
        ));
    }
    if opts.quantize == Some(Quantize::W8a8) {
        if opts.target != Target::Coreml {
            return Err(EngineError::options("quantize w8a8 is the Core ML form (quantize/dequantize ops); for tflite and onnx use int8"));
        }
        if opts.coreml_target.unwrap_or_default() < CoremlTarget::Ios17 {
            return Err(EngineError::options("quantize w8a8 needs Core ML target ios17 or later (its quantize/dequantize ops); add --target ios17"));
        }
    }
    if opts.interface.is_some() && opts.target != Target::Tflite {
        return Err(EngineError::options("interface applies to the tflite target only (ONNX QDQ models keep float inputs)"));
    }
    if !int8 && (opts.calibration_method.is_some() || !opts.keep_float.is_empty() || opts.interface.is_some()) {
        return Err(EngineError::options("calibration_method, keep_float and interface apply to quantize int8 and w8a8 only"));
    }
    if let Some(p) = opts.prune {
        p.check()?;
        let joint = opts.palettize.is_some() || matches!(opts.quantize, Some(Quantize::Int8Weights | Quantize::W8a8));
        if opts.target == Target::Coreml && joint && opts.coreml_target.unwrap_or_default() < CoremlTarget::Ios18 {
            return Err(EngineError::new(
                ErrorCode::Unsupported,
                "pruning with int8 weights or palettes in Core ML needs target ios18 (constexpr_sparse_blockwise_shift_scale, constexpr_lut_to_sparse); prune alone for ios16/17",
            ));
        }
    }
    if int8 && opts.palettize.is_some() {
        return Err(EngineError::options("palettization stores float tables; it does not combine with quantize int8"));
    }
    if opts.target == Target::Coreml && opts.quantize == Some(Quantize::Fp16) && opts.precision == Some(Precision::Fp32) {
        return Err(EngineError::options("quantize fp16 makes a Core ML program fp16; it contradicts precision fp32"));
    }
    coreml::check_fp32_ops(opts)?;
    if opts.target == Target::Coreml && opts.nhwc_io {
        return Err(EngineError::options("nhwc_io applies to the tflite target only (Core ML is channels-first)"));
    }
    Ok(())
}

/// Summary of a model: interface, op histogram, parameters, per-node cost, memory.
pub fn inspect(model: &[u8], opts: &ConvertOptions) -> Result<InspectReport, EngineError> {
    let imported = import(model, opts)?;
    Ok(inspect::report(&imported, sha256_hex(model)))
}

/// Convert an ONNX model to `opts.target`, calling `progress` as each stage starts.
pub fn convert(model: &[u8], opts: &ConvertOptions, progress: &mut dyn FnMut(Stage)) -> Result<Artifact, EngineError> {
    convert_calibrated(model, opts, None, progress)
}

/// [`convert`] with representative inputs for `quantize int8` (generated samples when `None`).
pub fn convert_calibrated(
    model: &[u8],
    opts: &ConvertOptions,
    calibration: Option<&Calibration>,
    progress: &mut dyn FnMut(Stage),
) -> Result<Artifact, EngineError> {
    check_options(opts)?;
    progress(Stage::Parse);
    let imported = import(model, opts)?;
    let mut graph = imported.graph;
    progress(Stage::Optimize);
    edgeport_passes::optimize(&mut graph)?;
    if let Some(p) = opts.prune {
        p.apply(&mut graph);
    }
    if opts.quantize == Some(Quantize::Int8Weights) {
        edgeport_quant::int8::quantize_weights(&mut graph);
    }
    if let Some(p) = opts.palettize {
        p.apply(&mut graph, opts.prune.is_some());
    }
    if opts.quantize.is_some_and(Quantize::is_calibrated) {
        let setup = quantize::Int8Setup {
            method: opts.calibration_method.unwrap_or_default(),
            keep_float: opts.keep_float.clone(),
            calibration: calibration.cloned(),
            f16_scales: opts.quantize == Some(Quantize::W8a8) && opts.precision != Some(Precision::Fp32),
        };
        quantize::plan_int8(&mut graph, &setup)?;
    }
    let stem = if graph.name.is_empty() { "model".to_string() } else { graph.name.clone() };
    let mut directory = None;
    let bytes = match opts.target {
        Target::Tflite => {
            edgeport_passes::to_nhwc(&mut graph, edgeport_passes::LayoutOptions { nhwc_io: opts.nhwc_io })?;
            progress(Stage::Export);
            let export = edgeport_tflite::ExportOptions {
                float16_weights: opts.quantize == Some(Quantize::Fp16),
                int8_interface: opts.interface == Some(Interface::Int8),
                int8_weights: opts.quantize == Some(Quantize::Int8Weights),
            };
            edgeport_tflite::export(&graph, &export)?
        }
        // Core ML is channels-first: the optimized NCHW graph is exported as is.
        Target::Coreml => {
            progress(Stage::Export);
            let (zip, dir) = coreml::export(&graph, model, opts, &stem)?;
            directory = Some(dir);
            zip
        }
        Target::Onnx => {
            progress(Stage::Export);
            edgeport_onnx::export(&graph, &edgeport_onnx::ExportOptions::default())?
        }
    };
    Ok(Artifact {
        file_name: format!("{stem}.{}", opts.target.extension()),
        media_type: opts.target.media_type().to_string(),
        sha256: sha256_hex(&bytes),
        size: bytes.len(),
        bytes,
        directory,
    })
}
