//! Elementwise activations, run standalone or folded into the producing kernel's output.

use edgeport_ir::ops::UnaryOp;
use edgeport_ir::Op;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Unary(UnaryOp),
    Clip { min: f32, max: f32 },
    LeakyRelu { alpha: f32 },
    HardSigmoid { alpha: f32, beta: f32 },
}

impl Activation {
    pub fn of(op: &Op) -> Option<Activation> {
        Some(match *op {
            Op::Unary(u) => Activation::Unary(u),
            Op::Clip { min, max } => Activation::Clip { min, max },
            Op::LeakyRelu { alpha } => Activation::LeakyRelu { alpha },
            Op::HardSigmoid { alpha, beta } => Activation::HardSigmoid { alpha, beta },
            _ => return None,
        })
    }

    /// Applies the activation in place. The common ones get their own loop so the compiler
    /// vectorizes them; the rest go through the IR's scalar definition.
    pub fn apply(self, x: &mut [f32]) {
        match self {
            Activation::Unary(UnaryOp::Relu) => x.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Clip { min, max } => x.iter_mut().for_each(|v| *v = v.max(min).min(max)),
            Activation::Unary(UnaryOp::HardSwish) => {
                x.iter_mut().for_each(|v| *v = *v * (*v + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0))
            }
            Activation::Unary(UnaryOp::Sigmoid) => x.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Activation::Unary(u) => x.iter_mut().for_each(|v| *v = u.apply(*v)),
            Activation::LeakyRelu { alpha } => x.iter_mut().for_each(|v| *v = if *v < 0.0 { *v * alpha } else { *v }),
            Activation::HardSigmoid { alpha, beta } => {
                x.iter_mut().for_each(|v| *v = (alpha * *v + beta).clamp(0.0, 1.0))
            }
        }
    }
}
