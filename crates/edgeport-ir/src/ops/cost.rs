//! Arithmetic cost of each op, the basis of `inspect` and of latency models.
//!
//! MACs count multiply-accumulates of the linear ops (Conv: output elements x C_in/group x kH x kW;
//! ConvTranspose: input elements x C_out/group x kH x kW; MatMul: output elements x K).
//! FLOPs = 2 x MACs, plus one per output element for a bias add, one per output element of an
//! elementwise op or activation, one per window element for pooling and resize taps, and a
//! small per-element constant for reductions and normalizations. Pure data movement is free.

use super::{Op, ResizeMode};
use crate::TensorType;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub macs: u64,
    pub flops: u64,
}

impl Op {
    pub fn cost(&self, inputs: &[&TensorType], outputs: &[&TensorType]) -> Cost {
        let out_elems = outputs.first().map_or(0, |t| t.elements() as u64);
        let in_elems = inputs.first().map_or(0, |t| t.elements() as u64);
        let has_bias = inputs.len() > 2;
        let linear = |macs: u64| Cost { macs, flops: 2 * macs + if has_bias { out_elems } else { 0 } };
        let flops = |flops: u64| Cost { macs: 0, flops };
        match self {
            Op::Conv(_) => {
                let w = &inputs[1].shape;
                linear(out_elems * (w[1] * w[2] * w[3]) as u64)
            }
            Op::ConvTranspose(_) => {
                let w = &inputs[1].shape;
                linear(in_elems * (w[1] * w[2] * w[3]) as u64)
            }
            Op::MatMul => {
                let a = &inputs[0].shape;
                let k = a.last().copied().unwrap_or(1) as u64;
                linear(out_elems * k)
            }
            Op::Pool(p) => {
                let window = (p.kernel[0] * p.kernel[1]) as u64;
                flops(out_elems * window)
            }
            Op::Resize(r) => flops(out_elems * if matches!(r.mode, ResizeMode::Linear) { 4 } else { 0 }),
            Op::Unary(_) | Op::Binary(_) | Op::PRelu | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::HardSigmoid { .. } => {
                flops(out_elems)
            }
            Op::Reduce(_) => flops(in_elems),
            Op::Softmax { .. } => flops(3 * in_elems),
            Op::LayerNorm(_) => flops(5 * in_elems),
            Op::Reshape { .. }
            | Op::Transpose { .. }
            | Op::Concat { .. }
            | Op::Split { .. }
            | Op::Slice(_)
            | Op::Gather { .. }
            | Op::Pad(_)
            | Op::Cast { .. } => Cost::default(),
        }
    }
}
