//! Clip: bounds are attributes `min`/`max` before opset 11 and optional constant inputs from
//! opset 11 on; a missing bound is -inf / +inf. Integer data becomes Max/Min nodes.

use edgeport_ir::ops::BinaryOp;
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let (min, max) = if ctx.opset() < 11 {
        (ctx.attr_opt_f("min")?, ctx.attr_opt_f("max")?)
    } else {
        (ctx.opt_const_scalar_f32(1, "min")?, ctx.opt_const_scalar_f32(2, "max")?)
    };
    let dtype = ctx.dtype(x);
    if dtype.is_float() {
        let (min, max) = (min.unwrap_or(f32::NEG_INFINITY), max.unwrap_or(f32::INFINITY));
        let y = ctx.emit1("", Op::Clip { min, max }, vec![x])?;
        return ctx.set_output(0, y);
    }
    // Integers: the bounds are exact in the input type.
    let mut y = x;
    if let Some(lo) = min {
        let c = common::scalar_const(ctx, "min", dtype, lo)?;
        let suffix = if max.is_some() { "max_with_min" } else { "" };
        y = ctx.emit1(suffix, Op::Binary(BinaryOp::Max), vec![y, c])?;
    }
    if let Some(hi) = max {
        let c = common::scalar_const(ctx, "max", dtype, hi)?;
        y = ctx.emit1("", Op::Binary(BinaryOp::Min), vec![y, c])?;
    }
    ctx.set_output(0, y)
}
