//! PRelu (opset 7+): slope input broadcast to x.

use edgeport_ir::Op;

use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let (x, slope) = (ctx.input(0)?, ctx.input(1)?);
    let y = ctx.emit1("", Op::PRelu, vec![x, slope])?;
    ctx.set_output(0, y)
}
