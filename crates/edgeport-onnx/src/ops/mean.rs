//! Mean (opset 8+): variadic; a chain of Add nodes and a division by the input count.

use edgeport_ir::ops::BinaryOp;
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.inputs()?.len();
    if n <= 1 {
        return common::alias(ctx);
    }
    let sum = common::variadic(ctx, BinaryOp::Add)?;
    let dtype = ctx.dtype(sum);
    if !dtype.is_float() {
        return Err(ctx.unsupported(format!("Mean of {dtype} data")));
    }
    let k = common::scalar_const(ctx, "count", dtype, n as f32)?;
    let y = ctx.emit1("mean", Op::Binary(BinaryOp::Div), vec![sum, k])?;
    ctx.set_output(0, y)
}
