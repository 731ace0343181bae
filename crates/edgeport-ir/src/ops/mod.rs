//! The closed set of IR ops. Adding an op here makes the compiler point at every exporter,
//! runtime and cost model that has to decide about it.
//!
//! Ops follow ONNX semantics (NCHW unless an op's `layout` says otherwise). Everything that
//! ONNX passes as a constant input (reshape targets, pads, axes, scales) is resolved into
//! attributes at import, so the IR is fully static.

mod conv;
mod cost;
mod elementwise;
mod matmul;
mod pool;
mod reduce;
mod resize;
mod shape_ops;

pub use conv::{Conv, ConvTranspose};
pub use cost::Cost;
pub use elementwise::{broadcast_shapes, BinaryOp, UnaryOp};
pub use matmul::matmul_shape;
pub use pool::{Pool, PoolKind};
pub use reduce::{LayerNorm, Reduce, ReduceKind};
pub use resize::{CoordMode, NearestMode, Resize, ResizeMode, ResizeTap};
pub use shape_ops::{Pad, PadMode, Slice};

use crate::{DType, IrResult, Tensor, TensorType};

/// Memory layout of a 4-D activation for the ops that care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Nchw,
    Nhwc,
}

impl Layout {
    /// Axis index of (channels, height, width) in a rank-4 tensor.
    pub fn chw_axes(self) -> (usize, usize, usize) {
        match self {
            Layout::Nchw => (1, 2, 3),
            Layout::Nhwc => (3, 1, 2),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// inputs: x, weight [O, I/group, kH, kW], optional bias [O].
    Conv(Conv),
    /// inputs: x, weight [I, O/group, kH, kW], optional bias [O].
    ConvTranspose(ConvTranspose),
    Pool(Pool),
    Resize(Resize),
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// inputs: x, slope (broadcast to x).
    PRelu,
    Clip { min: f32, max: f32 },
    LeakyRelu { alpha: f32 },
    HardSigmoid { alpha: f32, beta: f32 },
    /// numpy matmul semantics with broadcasting batch dims.
    MatMul,
    Reshape { shape: Vec<usize> },
    Transpose { perm: Vec<usize> },
    Concat { axis: usize },
    Split { axis: usize, sizes: Vec<usize> },
    Slice(Slice),
    /// inputs: data, integer indices (constant or not).
    Gather { axis: usize },
    Reduce(Reduce),
    Softmax { axis: usize },
    /// inputs: x, scale, optional bias; normalizes over axes `axis..rank`.
    LayerNorm(LayerNorm),
    Pad(Pad),
    Cast { to: DType },
}

impl Op {
    /// Stable short name used in messages, reports and golden dumps.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::ConvTranspose(_) => "ConvTranspose",
            Op::Pool(p) => match p.kind {
                PoolKind::Max => "MaxPool",
                PoolKind::Avg => "AvgPool",
            },
            Op::Resize(_) => "Resize",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::PRelu => "PRelu",
            Op::Clip { .. } => "Clip",
            Op::LeakyRelu { .. } => "LeakyRelu",
            Op::HardSigmoid { .. } => "HardSigmoid",
            Op::MatMul => "MatMul",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Concat { .. } => "Concat",
            Op::Split { .. } => "Split",
            Op::Slice(_) => "Slice",
            Op::Gather { .. } => "Gather",
            Op::Reduce(r) => r.kind.name(),
            Op::Softmax { .. } => "Softmax",
            Op::LayerNorm(_) => "LayerNorm",
            Op::Pad(_) => "Pad",
            Op::Cast { .. } => "Cast",
        }
    }

    /// True for ops that act on each element independently (layout passes move transposes
    /// across them freely).
    /// An elementwise activation (one input, one output, applied value by value), which the
    /// runtimes fold into the producing step.
    pub fn is_activation(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::HardSigmoid { .. })
    }

    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_) | Op::Binary(_) | Op::PRelu | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::HardSigmoid { .. }
        )
    }

    /// Output types for the given input types. `consts` has the data of constant inputs.
    pub fn infer(&self, inputs: &[&TensorType], consts: &[Option<&Tensor>]) -> IrResult<Vec<TensorType>> {
        let _ = consts;
        let name = self.name();
        let one = |t: TensorType| Ok(vec![t]);
        match self {
            Op::Conv(c) => one(c.infer(inputs)?),
            Op::ConvTranspose(c) => one(c.infer(inputs)?),
            Op::Pool(p) => one(p.infer(name, inputs)?),
            Op::Resize(r) => one(r.infer(inputs)?),
            Op::Unary(_) | Op::Clip { .. } | Op::LeakyRelu { .. } | Op::HardSigmoid { .. } => {
                one(elementwise::infer_unary(name, inputs)?)
            }
            Op::Binary(b) => one(b.infer(inputs)?),
            Op::PRelu => one(elementwise::infer_prelu(inputs)?),
            Op::MatMul => one(matmul::infer(inputs)?),
            Op::Reshape { shape } => one(shape_ops::infer_reshape(inputs, shape)?),
            Op::Transpose { perm } => one(shape_ops::infer_transpose(inputs, perm)?),
            Op::Concat { axis } => one(shape_ops::infer_concat(inputs, *axis)?),
            Op::Split { axis, sizes } => shape_ops::infer_split(inputs, *axis, sizes),
            Op::Slice(s) => one(s.infer(inputs)?),
            Op::Gather { axis } => one(shape_ops::infer_gather(inputs, *axis)?),
            Op::Reduce(r) => one(r.infer(name, inputs)?),
            Op::Softmax { axis } => one(reduce::infer_softmax(inputs, *axis)?),
            Op::LayerNorm(l) => one(l.infer(inputs)?),
            Op::Pad(p) => one(p.infer(inputs)?),
            Op::Cast { to } => one(shape_ops::infer_cast(inputs, *to)?),
        }
    }
}

/// Check the input count of an op (`min..=max`).
pub(crate) fn arity(op: &'static str, inputs: &[&TensorType], min: usize, max: usize) -> IrResult<()> {
    if inputs.len() < min || inputs.len() > max {
        return Err(crate::error::shape_err(
            op,
            format!("expects {min}..={max} inputs, got {}", inputs.len()),
        ));
    }
    Ok(())
}

/// Check that an input is of a float type.
pub(crate) fn expect_float(op: &'static str, inputs: &[&TensorType], index: usize) -> IrResult<()> {
    let t = inputs[index];
    if !t.dtype.is_float() {
        return Err(crate::IrError::DType {
            node: String::new(),
            op,
            index,
            found: t.dtype.to_string(),
            expected: "a float type".into(),
        });
    }
    Ok(())
}
