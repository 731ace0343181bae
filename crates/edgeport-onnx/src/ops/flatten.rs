//! Flatten (opset 1+, negative axis from 11): `[prod(dims[..axis]), prod(dims[axis..])]`.

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let r = xs.len() as i64;
    let axis = ctx.attr_i("axis", 1)?;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(ctx.invalid(format!("axis {axis} is out of range for rank {r}")));
    }
    let a = a as usize;
    let shape = vec![xs[..a].iter().product(), xs[a..].iter().product()];
    let y = common::reshape(ctx, "", x, shape)?;
    ctx.set_output(0, y)
}
