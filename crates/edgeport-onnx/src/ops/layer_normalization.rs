//! LayerNormalization (opset 17): over axes `axis..rank` (default -1) with epsilon; the
//! Mean and InvStdDev outputs must be unused.

use edgeport_ir::ops::LayerNorm;
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let scale = ctx.input(1)?;
    let bias = ctx.opt_input(2)?;
    let axis = common::norm_axis(ctx, ctx.attr_i("axis", -1)?, ctx.rank(x))?;
    let epsilon = ctx.attr_f("epsilon", 1e-5)?;
    if ctx.output_used(1) || ctx.output_used(2) {
        return Err(ctx.unsupported("the Mean and InvStdDev outputs are not supported"));
    }
    let mut inputs = vec![x, scale];
    inputs.extend(bias);
    let y = ctx.emit1("", Op::LayerNorm(LayerNorm { axis, epsilon }), inputs)?;
    ctx.set_output(0, y)
}
