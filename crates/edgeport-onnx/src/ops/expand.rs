//! Expand (opset 8+): the shape must be constant. A constant input is broadcast at import;
//! an input computed at run time is repeated with Concat along each broadcast axis (after a
//! Reshape that adds leading 1s), or passed through when no broadcasting is needed.

use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

/// Above this many copies along one axis the Concat lowering is not used.
const MAX_COPIES: usize = 4096;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let dims = ctx.opt_const_ints(1, "shape")?.ok_or_else(|| ctx.invalid("missing input 'shape'"))?;
    let target = common::to_dims(ctx, &dims, "shape")?;
    let xs = ctx.shape(x);
    let out = common::broadcast(ctx, &xs, &target)?;
    if let Some(t) = ctx.const_of(x) {
        let t = common::broadcast_const(ctx, &t, &out)?;
        return common::output_const(ctx, t);
    }
    if out == xs {
        return ctx.set_output(0, x);
    }
    let mut padded = vec![1; out.len() - xs.len()];
    padded.extend(&xs);
    let mut y = common::reshape(ctx, "rank", x, padded.clone())?;
    let axes: Vec<usize> = (0..out.len()).filter(|&a| padded[a] != out[a]).collect();
    for (k, &a) in axes.iter().enumerate() {
        if out[a] > MAX_COPIES {
            return Err(ctx.unsupported(format!("expanding a run-time value {} times along axis {a}", out[a])));
        }
        let suffix = if k + 1 == axes.len() { String::new() } else { format!("axis{a}") };
        y = ctx.emit1(&suffix, Op::Concat { axis: a }, vec![y; out[a]])?;
    }
    ctx.set_output(0, y)
}
