//! Unsqueeze: axes attribute (opset < 13) or constant input (opset 13+), relative to the
//! output rank. Imported as a Reshape.

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let axes = if ctx.opset() < 13 { ctx.attr_ints("axes")? } else { ctx.opt_const_ints(1, "axes")? };
    let Some(axes) = axes else {
        return Err(ctx.invalid("missing axes"));
    };
    let out_rank = xs.len() + axes.len();
    let axes = common::norm_axes(ctx, &axes, out_rank)?;
    let mut dims = xs.iter();
    let shape: Vec<usize> =
        (0..out_rank).map(|i| if axes.contains(&i) { 1 } else { dims.next().copied().unwrap_or(1) }).collect();
    let y = common::reshape(ctx, "", x, shape)?;
    ctx.set_output(0, y)
}
