//! ReduceMin: axes attribute before opset 18, constant input from opset 18; keepdims,
//! noop_with_empty_axes.

use edgeport_ir::ops::ReduceKind;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    common::reduce(ctx, ReduceKind::Min, 18)
}
