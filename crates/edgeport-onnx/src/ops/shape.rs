//! Shape (opset 1+, start/end from 15): a constant, since every shape is static.

use edgeport_ir::Tensor;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let r = xs.len() as i64;
    let clamp = |v: i64| (if v < 0 { v.saturating_add(r) } else { v }).clamp(0, r) as usize;
    let start = clamp(ctx.attr_i("start", 0)?);
    let end = clamp(ctx.attr_i("end", r)?);
    let dims: Vec<i64> = xs.get(start..end.max(start)).unwrap_or_default().iter().map(|&d| d as i64).collect();
    common::output_const(ctx, Tensor::vec_i64(dims))
}
