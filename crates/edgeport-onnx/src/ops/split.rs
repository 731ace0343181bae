//! Split: sizes from the `split` attribute (opset < 13) or input (opset 13+), or equal parts
//! (opset 18 `num_outputs`: ceil-sized parts with a smaller last one).

use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let axis = common::norm_axis(ctx, ctx.attr_i("axis", 0)?, xs.len())?;
    let dim = xs[axis];
    let given = if ctx.opset() < 13 { ctx.attr_ints("split")? } else { ctx.opt_const_ints(1, "split")? };
    let n_out = ctx.num_outputs();
    let sizes: Vec<usize> = match given {
        Some(s) if !s.is_empty() => {
            let sizes = s.iter().map(|&v| common::small(ctx, v, "split")).collect::<Result<Vec<_>>>()?;
            if sizes.iter().try_fold(0usize, |a, &b| a.checked_add(b)) != Some(dim) || sizes.len() != n_out {
                return Err(ctx.invalid(format!("split {s:?} does not divide axis {axis} of {xs:?} into {n_out} outputs")));
            }
            sizes
        }
        _ => {
            let parts = match ctx.attr_opt_i("num_outputs")? {
                Some(k) if ctx.opset() >= 18 => common::small(ctx, k, "num_outputs")?,
                _ => n_out,
            };
            if parts == 0 || parts != n_out {
                return Err(ctx.invalid(format!("{n_out} outputs for {parts} parts")));
            }
            let chunk = dim.div_ceil(parts);
            if ctx.opset() < 18 && !dim.is_multiple_of(parts) {
                return Err(ctx.invalid(format!("axis {axis} of {xs:?} does not split evenly into {parts}")));
            }
            let rest = dim.checked_sub(chunk.saturating_mul(parts - 1)).filter(|&r| r > 0 || dim == 0);
            let Some(rest) = rest else {
                return Err(ctx.invalid(format!("axis {axis} of {xs:?} cannot split into {parts} parts")));
            };
            let mut v = vec![chunk; parts - 1];
            v.push(rest);
            v
        }
    };
    let outs = ctx.emit("", Op::Split { axis, sizes }, vec![x])?;
    for (i, y) in outs.into_iter().enumerate() {
        ctx.set_output(i, y)?;
    }
    Ok(())
}
