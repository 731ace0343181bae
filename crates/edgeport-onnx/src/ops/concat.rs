//! Concat (opset 4+, negative axis from 11).

use edgeport_ir::{limits, Op};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let inputs = ctx.inputs()?;
    let Some(&first) = inputs.first() else {
        return Err(ctx.invalid("needs at least one input"));
    };
    let Some(axis) = ctx.attr_opt_i("axis")? else {
        return Err(ctx.invalid("missing attribute 'axis'"));
    };
    let axis = common::norm_axis(ctx, axis, ctx.rank(first))?;
    let mut total: usize = 0;
    for &v in &inputs {
        total = total.saturating_add(ctx.shape(v).get(axis).copied().unwrap_or(0));
    }
    if total > limits::MAX_DIM {
        return Err(crate::OnnxError::Limit {
            value: ctx.name().to_string(),
            message: format!("concatenated dimension {total} exceeds the limit of {}", limits::MAX_DIM),
        });
    }
    if inputs.len() == 1 {
        return ctx.set_output(0, first);
    }
    let y = ctx.emit1("", Op::Concat { axis }, inputs)?;
    ctx.set_output(0, y)
}
