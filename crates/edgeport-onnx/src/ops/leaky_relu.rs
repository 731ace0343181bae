//! LeakyRelu (opset 6+): attribute alpha (default 0.01).

use edgeport_ir::Op;

use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let alpha = ctx.attr_f("alpha", 0.01)?;
    let y = ctx.emit1("", Op::LeakyRelu { alpha }, vec![x])?;
    ctx.set_output(0, y)
}
