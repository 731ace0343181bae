//! Where (opset 9+): folded when every input is constant. A constant condition that is all
//! true (or all false) selects one input when no broadcasting is needed. Otherwise unsupported.

use edgeport_ir::TensorData;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let (c, x, y) = (ctx.input(0)?, ctx.input(1)?, ctx.input(2)?);
    let out_shape = {
        let s = common::broadcast(ctx, &ctx.shape(c), &ctx.shape(x))?;
        common::broadcast(ctx, &s, &ctx.shape(y))?
    };
    if let Some(cond) = ctx.const_of(c) {
        let TensorData::Bool(cv) = cond.data() else {
            return Err(ctx.invalid(format!("condition must be bool, got {}", cond.dtype())));
        };
        let pick = if cv.iter().all(|&b| b) { Some(x) } else if cv.iter().all(|&b| !b) { Some(y) } else { None };
        if let Some(p) = pick
            && ctx.shape(p) == out_shape {
                return ctx.set_output(0, p);
            }
    }
    let ts = common::require_all_const(ctx)?;
    let [cond, a, b] = ts.as_slice() else {
        return Err(ctx.invalid("expects three inputs"));
    };
    let cond = common::broadcast_const(ctx, cond, &out_shape)?;
    let (a, b) = (common::broadcast_const(ctx, a, &out_shape)?, common::broadcast_const(ctx, b, &out_shape)?);
    let TensorData::Bool(cv) = cond.data() else {
        return Err(ctx.invalid("condition must be bool"));
    };
    let t = common::select(cv, &a, &b).ok_or_else(|| ctx.invalid("X and Y must have the same element type"))?;
    common::output_const(ctx, t)
}
