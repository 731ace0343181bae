//! Weight quantization over the IR.
//!
//! A quantization pass replaces each weight with the values its stored form decodes to (for
//! int8: `q * scale` per output channel), so every later consumer (the CPU runtime behind the
//! fidelity report, the simulator, the exporters) sees the numbers the artifact will compute
//! with. Exporters then recover the stored form from those values exactly ([`int8::recover`]):
//! the decoded values sit on a grid that only one (q, scale) pair reproduces. That keeps
//! quantization independent of layout: the TFLite exporter's NHWC permutations and the
//! Core ML exporter's reshapes move values, not grids.

pub mod calibrate;
pub mod int8;
pub mod palette;
pub mod prune;
pub mod weights;

/// One quantized constant, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    /// The IR value's name.
    pub name: String,
    pub elements: usize,
    /// The output-channel axis of the per-channel scales.
    pub axis: usize,
}
