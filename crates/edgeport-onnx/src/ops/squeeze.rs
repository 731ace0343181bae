//! Squeeze: axes attribute (opset < 13) or constant input (opset 13+); without axes every
//! dim of size 1 goes. Imported as a Reshape.

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let axes = if ctx.opset() < 13 { ctx.attr_ints("axes")? } else { ctx.opt_const_ints(1, "axes")? };
    let drop: Vec<usize> = match axes {
        Some(a) => {
            let a = common::norm_axes(ctx, &a, xs.len())?;
            if let Some(&bad) = a.iter().find(|&&i| xs[i] != 1) {
                return Err(ctx.invalid(format!("cannot squeeze axis {bad} of {xs:?}")));
            }
            a
        }
        None => (0..xs.len()).filter(|&i| xs[i] == 1).collect(),
    };
    let shape: Vec<usize> = xs.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, &d)| d).collect();
    let y = common::reshape(ctx, "", x, shape)?;
    ctx.set_output(0, y)
}
