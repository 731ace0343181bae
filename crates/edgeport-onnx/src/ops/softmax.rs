//! Softmax. Opset 13+: over one axis (default -1). Before 13 the input is coerced to 2-D at
//! `axis` (default 1): that is a last-axis softmax when axis == rank - 1, and otherwise a
//! Reshape to `[prod(..axis), prod(axis..)]`, a softmax over the last axis, and a Reshape back.

use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let rank = xs.len();
    if rank == 0 {
        return Err(ctx.invalid("expects an input of rank >= 1"));
    }
    if ctx.opset() >= 13 {
        let axis = common::norm_axis(ctx, ctx.attr_i("axis", -1)?, rank)?;
        let y = ctx.emit1("", Op::Softmax { axis }, vec![x])?;
        return ctx.set_output(0, y);
    }
    let axis = ctx.attr_i("axis", 1)?;
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..r).contains(&a) {
        return Err(ctx.invalid(format!("axis {axis} is out of range for rank {rank}")));
    }
    let a = a as usize;
    if a == rank - 1 {
        let y = ctx.emit1("", Op::Softmax { axis: a }, vec![x])?;
        return ctx.set_output(0, y);
    }
    let flat = vec![xs[..a].iter().product(), xs[a..].iter().product()];
    let x2 = common::reshape(ctx, "to_2d", x, flat)?;
    let y2 = ctx.emit1("", Op::Softmax { axis: 1 }, vec![x2])?;
    let y = common::reshape(ctx, "restore", y2, xs)?;
    ctx.set_output(0, y)
}
