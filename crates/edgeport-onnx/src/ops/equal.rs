//! Equal (opset 7+): folded when both inputs are constant; unsupported otherwise.

use edgeport_ir::{DType, Tensor, TensorData};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let ts = common::require_all_const(ctx)?;
    let [a, b] = ts.as_slice() else {
        return Err(ctx.invalid("expects two inputs"));
    };
    let shape = common::broadcast(ctx, a.shape(), b.shape())?;
    let (a, b) = (common::broadcast_const(ctx, a, &shape)?, common::broadcast_const(ctx, b, &shape)?);
    let eq: Vec<bool> = if a.dtype().is_float() || b.dtype().is_float() || a.dtype() == DType::F16 {
        a.to_f32_vec().iter().zip(b.to_f32_vec()).map(|(x, y)| *x == y).collect()
    } else {
        a.to_i64_vec().iter().zip(b.to_i64_vec()).map(|(x, y)| *x == y).collect()
    };
    let t = Tensor::new(shape, TensorData::Bool(eq)).map_err(|e| ctx.invalid(e.to_string()))?;
    common::output_const(ctx, t)
}
