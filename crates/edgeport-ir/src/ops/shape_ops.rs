//! Ops that move or select data without arithmetic.

use super::arity;
use crate::error::shape_err;
use crate::{DType, IrError, IrResult, TensorType};

pub(crate) fn infer_reshape(inputs: &[&TensorType], shape: &[usize]) -> IrResult<TensorType> {
    const OP: &str = "Reshape";
    arity(OP, inputs, 1, 1)?;
    let n: usize = shape.iter().product();
    if n != inputs[0].elements() {
        return Err(shape_err(OP, format!("cannot reshape {:?} to {shape:?}", inputs[0].shape)));
    }
    Ok(TensorType::new(inputs[0].dtype, shape.to_vec()))
}

/// True when `perm` is a permutation of 0..rank.
pub fn is_permutation(perm: &[usize], rank: usize) -> bool {
    let mut seen = vec![false; rank];
    perm.len() == rank && perm.iter().all(|&p| p < rank && !std::mem::replace(&mut seen[p], true))
}

pub(crate) fn infer_transpose(inputs: &[&TensorType], perm: &[usize]) -> IrResult<TensorType> {
    const OP: &str = "Transpose";
    arity(OP, inputs, 1, 1)?;
    let x = inputs[0];
    if !is_permutation(perm, x.rank()) {
        return Err(shape_err(OP, format!("perm {perm:?} is not a permutation of rank {}", x.rank())));
    }
    Ok(TensorType::new(x.dtype, perm.iter().map(|&p| x.shape[p]).collect()))
}

pub(crate) fn infer_concat(inputs: &[&TensorType], axis: usize) -> IrResult<TensorType> {
    const OP: &str = "Concat";
    let first = inputs.first().ok_or_else(|| shape_err(OP, "needs at least one input"))?;
    if axis >= first.rank() {
        return Err(shape_err(OP, format!("axis {axis} out of range for rank {}", first.rank())));
    }
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for (i, t) in inputs.iter().enumerate() {
        let compatible = t.rank() == first.rank()
            && t.shape.iter().zip(&first.shape).enumerate().all(|(a, (x, y))| a == axis || x == y);
        if !compatible || t.dtype != first.dtype {
            return Err(shape_err(OP, format!("input {i} {:?} {} does not match {:?} {} outside axis {axis}", t.shape, t.dtype, first.shape, first.dtype)));
        }
        shape[axis] += t.shape[axis];
    }
    Ok(TensorType::new(first.dtype, shape))
}

pub(crate) fn infer_split(inputs: &[&TensorType], axis: usize, sizes: &[usize]) -> IrResult<Vec<TensorType>> {
    const OP: &str = "Split";
    arity(OP, inputs, 1, 1)?;
    let x = inputs[0];
    if axis >= x.rank() || sizes.iter().sum::<usize>() != x.shape[axis] || sizes.is_empty() {
        return Err(shape_err(OP, format!("sizes {sizes:?} do not split axis {axis} of {:?}", x.shape)));
    }
    Ok(sizes
        .iter()
        .map(|&s| {
            let mut shape = x.shape.clone();
            shape[axis] = s;
            TensorType::new(x.dtype, shape)
        })
        .collect())
}

/// A strided slice with bounds already normalized by the importer: `starts` and `ends` are
/// clamped into the axis (ends may be -1 for a negative step running to the front).
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub axes: Vec<usize>,
    pub starts: Vec<i64>,
    pub ends: Vec<i64>,
    pub steps: Vec<i64>,
}

impl Slice {
    /// Number of elements taken along one sliced axis.
    pub fn extent(start: i64, end: i64, step: i64) -> usize {
        if step > 0 && end > start {
            ((end - start + step - 1) / step) as usize
        } else if step < 0 && start > end {
            ((start - end - step - 1) / -step) as usize
        } else {
            0
        }
    }

    pub fn infer(&self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        const OP: &str = "Slice";
        arity(OP, inputs, 1, 1)?;
        let x = inputs[0];
        let n = self.axes.len();
        if self.starts.len() != n || self.ends.len() != n || self.steps.len() != n {
            return Err(shape_err(OP, "axes, starts, ends and steps differ in length"));
        }
        let mut shape = x.shape.clone();
        for i in 0..n {
            let (a, s, e, st) = (self.axes[i], self.starts[i], self.ends[i], self.steps[i]);
            let dim = *x.shape.get(a).ok_or_else(|| shape_err(OP, format!("axis {a} out of range")))? as i64;
            let valid = st != 0 && (0..=dim).contains(&s.max(0)) && (-1..=dim).contains(&e) && s >= 0 && s <= dim;
            if !valid {
                return Err(shape_err(OP, format!("slice {s}..{e} step {st} invalid for axis {a} of size {dim}")));
            }
            shape[a] = Slice::extent(s, e, st);
        }
        Ok(TensorType::new(x.dtype, shape))
    }
}

pub(crate) fn infer_gather(inputs: &[&TensorType], axis: usize) -> IrResult<TensorType> {
    const OP: &str = "Gather";
    arity(OP, inputs, 2, 2)?;
    let (x, idx) = (inputs[0], inputs[1]);
    if axis >= x.rank() {
        return Err(shape_err(OP, format!("axis {axis} out of range for {:?}", x.shape)));
    }
    if !matches!(idx.dtype, DType::I64 | DType::I32) {
        return Err(IrError::DType { node: String::new(), op: OP, index: 1, found: idx.dtype.to_string(), expected: "int32 or int64".into() });
    }
    let mut shape = x.shape[..axis].to_vec();
    shape.extend_from_slice(&idx.shape);
    shape.extend_from_slice(&x.shape[axis + 1..]);
    Ok(TensorType::new(x.dtype, shape))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadMode {
    Constant(f32),
    Reflect,
    Edge,
}

/// Padding with per-axis (before, after) amounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Pad {
    pub pads: Vec<[usize; 2]>,
    pub mode: PadMode,
}

impl Pad {
    /// The input coordinate that output coordinate `i` of `axis` reads (the input has `dim`
    /// elements there), or `None` inside constant padding.
    pub fn source_index(&self, axis: usize, dim: usize, i: usize) -> Option<usize> {
        let before = self.pads.get(axis).map_or(0, |p| p[0]);
        let s = i as isize - before as isize;
        let last = dim as isize - 1;
        match self.mode {
            _ if (0..=last).contains(&s) => Some(s as usize),
            PadMode::Constant(_) => None,
            PadMode::Edge => Some(s.clamp(0, last) as usize),
            PadMode::Reflect => {
                let r = if s < 0 { -s } else { 2 * last - s };
                Some(r.clamp(0, last) as usize)
            }
        }
    }
}

impl Pad {
    pub fn infer(&self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        const OP: &str = "Pad";
        arity(OP, inputs, 1, 1)?;
        let x = inputs[0];
        if self.pads.len() != x.rank() {
            return Err(shape_err(OP, format!("{} pad pairs for rank {}", self.pads.len(), x.rank())));
        }
        let mut shape = Vec::with_capacity(x.rank());
        for (d, [b, e]) in x.shape.iter().zip(&self.pads) {
            if self.mode == PadMode::Reflect && (*b >= *d || *e >= *d) {
                return Err(shape_err(OP, format!("reflect padding {b},{e} needs a dimension larger than both, got {d}")));
            }
            shape.push(d + b + e);
        }
        Ok(TensorType::new(x.dtype, shape))
    }
}

pub(crate) fn infer_cast(inputs: &[&TensorType], to: DType) -> IrResult<TensorType> {
    arity("Cast", inputs, 1, 1)?;
    Ok(TensorType::new(to, inputs[0].shape.clone()))
}
