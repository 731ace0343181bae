//! ONNX -> edgeport IR.
//!
//! `import` decodes an ONNX model (protobuf bytes), checks it, and converts it node by node
//! into a static-shaped [`edgeport_ir::Graph`]. Each ONNX op has one importer in
//! `src/ops/<op>.rs`, registered in the single table of `src/ops/mod.rs`. Importers talk to
//! the graph through `Ctx` (`src/context.rs`), which folds any node whose inputs are all constant, so shape
//! arithmetic (Shape -> Gather -> Concat -> Reshape) ends up as plain attributes.
//!
//! Invariants of the result: every value has a dtype and a static shape, graph outputs keep
//! their ONNX names and are node outputs, every node keeps its ONNX node name (extra nodes of
//! a lowering get `<name>/<suffix>`) and its ONNX op type as `source_op`, and the graph is
//! dead-code free, topologically sorted and passes `Graph::validate`.
//!
//! Errors are one line each and name the culprit; every unsupported node is listed at once.
//! Nothing in a model file can make the importer panic.

use std::collections::BTreeMap;

mod context;
mod error;
mod export;
mod import;
mod ops;
mod tensor;

pub use error::{ErrorKind, OnnxError, UnsupportedNode};
pub use export::{ExportError, ExportOptions, export};
pub use import::{IR_VERSIONS, OPSETS};
/// The prost types of the ONNX protobuf schema (for building models in tests and tools).
pub use tract_onnx::pb;

/// Caller choices for an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Static shapes for graph inputs, by input name. They replace the model's shapes and must
    /// be given for every input with a dynamic dim.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
}

/// Facts about the source model, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelInfo {
    pub ir_version: i64,
    /// Imported opsets by domain; the default domain is listed as `ai.onnx`.
    pub opsets: BTreeMap<String, i64>,
    /// `producer_name producer_version`.
    pub producer: String,
    /// Count of every source node by op type (domain-qualified outside the default domain),
    /// Constant nodes included.
    pub op_histogram: BTreeMap<String, usize>,
    /// Elements of floating-point initializers and floating Constant-node tensors.
    pub params: usize,
    /// Their size in bytes, in the model's own precision.
    pub param_bytes: usize,
}

/// An imported model.
#[derive(Debug, Clone)]
pub struct Imported {
    pub graph: edgeport_ir::Graph,
    pub info: ModelInfo,
}

/// Import an ONNX model from its protobuf bytes.
pub fn import(bytes: &[u8], opts: &ImportOptions) -> Result<Imported, OnnxError> {
    import::import(bytes, opts)
}

/// The ONNX op types (default domain) the importer has an importer for, sorted.
pub fn supported_ops() -> Vec<&'static str> {
    ops::supported()
}
