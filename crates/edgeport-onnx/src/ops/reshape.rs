//! Reshape (opset 5+): the target must be constant (after folding). 0 copies the input dim
//! (unless allowzero, opset 14), -1 is inferred.

use super::common;
use crate::context::Ctx;
use crate::error::Result;

/// Resolve an ONNX reshape target against the input shape.
pub fn resolve(ctx: &Ctx, input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            -1 => return Err(ctx.invalid(format!("shape {target:?} has more than one -1"))),
            0 if !allowzero => match input.get(i) {
                Some(&v) => out.push(v),
                None => return Err(ctx.invalid(format!("shape {target:?} copies dim {i}, but the input {input:?} has none"))),
            },
            d => out.push(common::to_dims(ctx, &[d], "shape")?.first().copied().unwrap_or(0)),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &d)| d).try_fold(1usize, |a, d| a.checked_mul(d)).unwrap_or(0);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(ctx.invalid(format!("cannot reshape {input:?} to {target:?}")));
        }
        if let Some(slot) = out.get_mut(i) {
            *slot = total / known;
        }
    }
    common::checked(ctx, &out)?;
    if out.iter().product::<usize>() != total {
        return Err(ctx.invalid(format!("cannot reshape {input:?} ({total} elements) to {target:?}")));
    }
    Ok(out)
}

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let target = match ctx.opt_const_ints(1, "shape")? {
        Some(t) => t,
        None => ctx.attr_ints("shape")?.ok_or_else(|| ctx.invalid("missing input 'shape'"))?,
    };
    let allowzero = ctx.attr_i("allowzero", 0)? != 0;
    let shape = resolve(ctx, &ctx.shape(x), &target, allowzero)?;
    let y = common::reshape(ctx, "", x, shape)?;
    ctx.set_output(0, y)
}
