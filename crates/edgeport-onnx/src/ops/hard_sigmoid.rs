//! HardSigmoid (opset 6+): max(0, min(1, alpha * x + beta)), alpha 0.2 and beta 0.5 by default.

use edgeport_ir::Op;

use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let alpha = ctx.attr_f("alpha", 0.2)?;
    let beta = ctx.attr_f("beta", 0.5)?;
    let y = ctx.emit1("", Op::HardSigmoid { alpha, beta }, vec![x])?;
    ctx.set_output(0, y)
}
