use super::{arity, expect_float};
use crate::error::shape_err;
use crate::{IrResult, TensorType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceKind {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
}

impl ReduceKind {
    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Mean => "ReduceMean",
            ReduceKind::Sum => "ReduceSum",
            ReduceKind::Max => "ReduceMax",
            ReduceKind::Min => "ReduceMin",
            ReduceKind::Prod => "ReduceProd",
        }
    }
}

/// Reduction over a sorted, de-duplicated, non-empty set of axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduce {
    pub kind: ReduceKind,
    pub axes: Vec<usize>,
    pub keep_dims: bool,
}

impl Reduce {
    pub fn infer(&self, op: &'static str, inputs: &[&TensorType]) -> IrResult<TensorType> {
        arity(op, inputs, 1, 1)?;
        let x = inputs[0];
        if self.axes.is_empty() || self.axes.iter().any(|&a| a >= x.rank()) || self.axes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(shape_err(op, format!("axes {:?} invalid for rank {}", self.axes, x.rank())));
        }
        let shape = x
            .shape
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| match (self.axes.contains(&i), self.keep_dims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        Ok(TensorType::new(x.dtype, shape))
    }
}

pub(crate) fn infer_softmax(inputs: &[&TensorType], axis: usize) -> IrResult<TensorType> {
    const OP: &str = "Softmax";
    arity(OP, inputs, 1, 1)?;
    expect_float(OP, inputs, 0)?;
    if axis >= inputs[0].rank() {
        return Err(shape_err(OP, format!("axis {axis} out of range for {:?}", inputs[0].shape)));
    }
    Ok(inputs[0].clone())
}

/// Layer normalization over axes `axis..rank` with scale (and bias) shaped like those axes.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    pub axis: usize,
    pub epsilon: f32,
}

impl LayerNorm {
    pub fn infer(&self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        const OP: &str = "LayerNorm";
        arity(OP, inputs, 2, 3)?;
        expect_float(OP, inputs, 0)?;
        let x = inputs[0];
        if self.axis >= x.rank() {
            return Err(shape_err(OP, format!("axis {} out of range for {:?}", self.axis, x.shape)));
        }
        let norm = &x.shape[self.axis..];
        for (i, t) in inputs[1..].iter().enumerate() {
            if super::broadcast_shapes(&t.shape, norm).as_deref() != Some(norm) {
                return Err(shape_err(OP, format!("input {} {:?} does not broadcast to {norm:?}", i + 1, t.shape)));
            }
        }
        Ok(x.clone())
    }
}
