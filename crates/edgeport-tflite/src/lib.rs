//! IR -> TFLite export.
//!
//! `export` turns a static-shaped, NHWC-legalized `edgeport_ir::Graph` into the bytes of a
//! `.tflite` flatbuffer (schema version 3, identifier `TFL3`), written with the flatc-generated
//! builders re-exported by `tract_tflite::tflite`.
//!
//! Code map:
//! - `legalize.rs`: one match over the closed IR `Op` enum: the lowering rule (or the reason it is
//!   unsupported) for every op, plus the fusions (activations, FC bias).
//! - `ops/<op>.rs`: one file per emitted TFLite op (or tight family): its options table and the
//!   operator version it needs.
//! - `builder.rs`: tensor / buffer / opcode tables and the final model assembly.
//! - `hybrid.rs`: which nodes become hybrid kernels (int8 weights, float32 activations) with
//!   `int8_weights`, shared with the CPU runtime's simulation.
//! - `int8.rs`: the full-integer plan (which nodes run on int8 kernels, every int8 tensor's
//!   parameters), made before the layout pass so the CPU runtime can simulate it.
//!
//! Invariants: output bytes are a pure function of the graph and the options (no HashMap
//! iteration, no timestamps); bad input never panics, it becomes a `TfliteError`.

mod builder;
mod coords;
pub mod hybrid;
pub mod int8;
mod legalize;
mod ops;
mod weights;

use edgeport_ir::Graph;

/// Options for `export`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportOptions {
    /// Float16 weights: every float32 constant of more than one element is stored as float16
    /// and widened to float32 by a DEQUANTIZE, as TFLite's float16 quantization does (half the
    /// size; compute stays float32, or float16 where a delegate chooses).
    pub float16_weights: bool,
    /// With full-integer quantization: the model's int8 inputs and outputs are int8 tensors
    /// (like TFLite's `inference_input_type = int8`) instead of float32 ones behind QUANTIZE
    /// and DEQUANTIZE.
    pub int8_interface: bool,
    /// Weight-only int8: convolutions and fully connected layers whose weights are on a
    /// per-channel int8 grid store them as int8 and run as hybrid kernels ([`hybrid`]).
    pub int8_weights: bool,
}

/// Errors raised by `export`.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum TfliteError {
    /// Nodes the exporter cannot express in TFLite builtins: (node name, op, reason), every one
    /// of them, in graph order.
    #[error("{} node(s) cannot be exported to TFLite: {}", nodes.len(), describe(nodes))]
    Unsupported {
        nodes: Vec<(String, String, String)>,
    },
    /// The graph breaks a precondition of the exporter (for example an NCHW convolution, which
    /// the layout pass should have rewritten).
    #[error("invalid graph for TFLite export: {0}")]
    Invalid(String),
    /// The model does not fit in a flatbuffer (2 GiB).
    #[error("model too large for a TFLite flatbuffer: {0}")]
    TooLarge(String),
}

fn describe(nodes: &[(String, String, String)]) -> String {
    nodes
        .iter()
        .map(|(name, op, reason)| format!("'{name}' ({op}): {reason}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Export `graph` to the bytes of a `.tflite` model.
pub fn export(graph: &Graph, opts: &ExportOptions) -> Result<Vec<u8>, TfliteError> {
    builder::check_size(graph)?;
    let mut b = builder::ModelBuilder::new(opts);
    legalize::lower(graph, &mut b, opts)?;
    b.finish(graph)
}

/// Names of the TFLite builtin operators `export` may emit for each IR op, for reports and the
/// supported-ops table. Ops that are always unsupported are absent.
pub fn supported_ir_ops() -> &'static [(&'static str, &'static str)] {
    legalize::SUPPORTED
}

#[cfg(test)]
mod tests;
