use super::{arity, expect_float};
use crate::error::shape_err;
use crate::{IrResult, TensorType};

/// numpy matmul output shape (rank-1 operands promoted and squeezed as numpy does).
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
    let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return None;
    }
    let mut out = super::broadcast_shapes(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Some(out)
}

pub(crate) fn infer(inputs: &[&TensorType]) -> IrResult<TensorType> {
    const OP: &str = "MatMul";
    arity(OP, inputs, 2, 2)?;
    expect_float(OP, inputs, 0)?;
    expect_float(OP, inputs, 1)?;
    let shape = matmul_shape(&inputs[0].shape, &inputs[1].shape)
        .ok_or_else(|| shape_err(OP, format!("cannot multiply {:?} by {:?}", inputs[0].shape, inputs[1].shape)))?;
    Ok(TensorType::new(inputs[0].dtype, shape))
}
