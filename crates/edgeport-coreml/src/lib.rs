//! IR -> Core ML export: an ML Program `.mlpackage`.
//!
//! `export` turns a static-shaped, NCHW `edgeport_ir::Graph` (after `edgeport_passes::optimize`;
//! Core ML is channels-first, so no layout pass) into a [`Package`]: `Manifest.json`,
//! `Data/com.apple.CoreML/model.mlmodel` (a `CoreML.Specification.Model` protobuf holding a MIL
//! program) and `Data/com.apple.CoreML/weights/weight.bin` (blob storage v2).
//!
//! Code map:
//! - `proto.rs`: hand-written prost messages for the subset of Core ML's protobuf schema used
//!   (every map a `BTreeMap`, so bytes are deterministic).
//! - `blob.rs`: the `weight.bin` writer (and a checking reader for tests).
//! - `mil.rs`: the MIL program builder: unique identifiers, const ops (immediate or blob),
//!   typed op emission with availability checks per deployment target.
//! - `legalize.rs`: one match over the closed IR `Op` enum: the MIL lowering (or the reason it
//!   is unsupported) of every op, plus the interface (fp16 casts, model inputs/outputs).
//! - `ops/<op>.rs`: one file per emitted MIL op (or tight family): its parameter names and
//!   types and the first target that has it.
//! - `precision.rs`: which nodes stay float32 in an fp16 program (the mixed-precision rule).
//! - `package.rs`: `Manifest.json`, the file list and the deterministic zip.
//!
//! Invariants: output bytes are a pure function of the graph and the options (no HashMap
//! iteration, no timestamps, identifiers derived from content hashes); bad input never panics,
//! it becomes a `CoremlError` that lists every unsupported node at once.

use std::collections::BTreeMap;

mod blob;
mod legalize;
mod mil;
mod ops;
mod package;
mod precision;
pub mod proto;

pub use blob::{BlobDType, BlobRecord, read_blobs};
pub use package::{MODEL_PATH, Package, PackageFile, WEIGHT_FILE_REF, WEIGHTS_PATH};
pub use precision::{Fp32Ops, LARGE_WEIGHT, fp32_nodes};

use edgeport_ir::Graph;

/// Deployment target: the oldest OS the model must load on. It fixes the protobuf
/// specification version and the MIL opset, and so which ops are available.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// iOS 15 / macOS 12: specification 6, opset `CoreML5`.
    Ios15,
    /// iOS 16 / macOS 13: specification 7, opset `CoreML6`.
    #[default]
    Ios16,
    /// iOS 17 / macOS 14: specification 8, opset `CoreML7`.
    Ios17,
    /// iOS 18 / macOS 15: specification 9, opset `CoreML8`.
    Ios18,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::Ios15, Target::Ios16, Target::Ios17, Target::Ios18];

    pub fn specification_version(self) -> i32 {
        match self {
            Target::Ios15 => 6,
            Target::Ios16 => 7,
            Target::Ios17 => 8,
            Target::Ios18 => 9,
        }
    }

    /// The MIL opset name of the program's function.
    pub fn opset(self) -> &'static str {
        match self {
            Target::Ios15 => "CoreML5",
            Target::Ios16 => "CoreML6",
            Target::Ios17 => "CoreML7",
            Target::Ios18 => "CoreML8",
        }
    }

    /// Display name (`iOS16`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Ios15 => "iOS15",
            Target::Ios16 => "iOS16",
            Target::Ios17 => "iOS17",
            Target::Ios18 => "iOS18",
        }
    }

    /// Option spelling (`ios16`).
    pub fn key(self) -> &'static str {
        match self {
            Target::Ios15 => "ios15",
            Target::Ios16 => "ios16",
            Target::Ios17 => "ios17",
            Target::Ios18 => "ios18",
        }
    }

    pub fn from_key(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.key() == s)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Compute precision of float tensors inside the program.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// As coremltools does: float32 model inputs and outputs are kept, a `cast` to fp16 follows
    /// each input and a `cast` back to fp32 precedes each output; float tensors and weights
    /// inside are fp16, except in the nodes `ExportOptions::fp32_ops` selects (those compute in
    /// fp32, with casts where fp16 and fp32 values meet).
    #[default]
    Fp16,
    /// Everything float32.
    Fp32,
}

impl Precision {
    pub fn key(self) -> &'static str {
        match self {
            Precision::Fp16 => "fp16",
            Precision::Fp32 => "fp32",
        }
    }
}

/// Model metadata written to `ModelDescription.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub author: String,
    pub short_description: String,
    pub version: String,
    pub license: String,
    /// Free-form keys (e.g. `com.edgeport.source_sha256`).
    pub user_defined: BTreeMap<String, String>,
}

/// Options for `export`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    pub target: Target,
    pub precision: Precision,
    /// Nodes that stay float32 when `precision` is fp16 (default: the automatic rule).
    pub fp32_ops: Fp32Ops,
    pub metadata: Metadata,
    /// Base name of the package directory (`<name>.mlpackage`); sanitized for file systems.
    pub name: String,
    /// Store weights whose values sit on an int8 per-channel grid (the `edgeport-quant` int8
    /// pass put them there) as int8: `constexpr_affine_dequantize` (iOS16/17) or
    /// `constexpr_blockwise_shift_scale` (iOS18). Needs iOS16 or later.
    pub int8_weights: bool,
    /// Store weights that hold at most `2^bits` distinct values (the `edgeport-quant` palette
    /// pass made them so) as a lookup table and packed indices (`constexpr_lut_to_dense`,
    /// iOS16/17).
    pub palette_bits: Option<u8>,
    /// With `palette_bits`: one table per this many output channels (iOS18's grouped
    /// `constexpr_lut_to_dense`); `None`: one table per tensor.
    pub palette_group: Option<usize>,
    /// Store weights with enough exact zeros (the `edgeport-quant` pruning pass made them) as a
    /// bit mask and their nonzero values (`constexpr_sparse_to_dense`, iOS16+; from iOS18 the
    /// nonzero values may be int8 or palette indices).
    pub sparse_weights: bool,
    /// W8A8: every IR value with `QuantParams` (the int8 plan set them) is held as int8 between
    /// ops: `quantize` after its producer, `dequantize` before its readers (iOS17+).
    pub int8_activations: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            target: Target::default(),
            precision: Precision::default(),
            fp32_ops: Fp32Ops::default(),
            metadata: Metadata::default(),
            name: "model".into(),
            int8_weights: false,
            palette_bits: None,
            palette_group: None,
            sparse_weights: false,
            int8_activations: false,
        }
    }
}

/// Errors raised by `export`.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum CoremlError {
    /// Nodes (or model inputs/outputs) that cannot be expressed as MIL at the chosen target:
    /// (node name, op, reason), every one of them, in graph order. A reason that names a later
    /// target means the op exists there.
    #[error("{} node(s) cannot be exported to Core ML: {}", nodes.len(), describe(nodes))]
    Unsupported {
        nodes: Vec<(String, String, String)>,
    },
    /// The graph breaks a precondition of the exporter (for example an NHWC convolution).
    #[error("invalid graph for Core ML export: {0}")]
    Invalid(String),
    /// An export option does not fit the graph (e.g. it names a node the model lacks).
    #[error("{0}")]
    BadOption(String),
    /// A size limit of the formats was exceeded.
    #[error("model too large for Core ML: {0}")]
    TooLarge(String),
    /// Writing the zip failed.
    #[error("cannot write the package zip: {0}")]
    Zip(String),
}

fn describe(nodes: &[(String, String, String)]) -> String {
    nodes
        .iter()
        .map(|(name, op, reason)| format!("'{name}' ({op}): {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Export `graph` to an `.mlpackage`.
pub fn export(graph: &Graph, opts: &ExportOptions) -> Result<Package, CoremlError> {
    let lowered = legalize::lower(graph, opts)?;
    package::assemble(lowered, opts)
}

/// The MIL ops `export` may emit for each IR op, for reports and the supported-ops table.
pub fn supported_ir_ops() -> &'static [(&'static str, &'static str)] {
    legalize::SUPPORTED
}

#[cfg(test)]
mod tests;
