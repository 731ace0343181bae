//! MatMul (opset 1+): numpy matmul with broadcasting batch dims.

use edgeport_ir::Op;

use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let (a, b) = (ctx.input(0)?, ctx.input(1)?);
    if !ctx.dtype(a).is_float() || !ctx.dtype(b).is_float() {
        return Err(ctx.unsupported(format!("MatMul of {} by {} data", ctx.dtype(a), ctx.dtype(b))));
    }
    let y = ctx.emit1("", Op::MatMul, vec![a, b])?;
    ctx.set_output(0, y)
}
