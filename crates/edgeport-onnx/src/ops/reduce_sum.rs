//! ReduceSum: axes attribute before opset 13, constant input from opset 13; keepdims,
//! noop_with_empty_axes.

use edgeport_ir::ops::ReduceKind;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    common::reduce(ctx, ReduceKind::Sum, 13)
}
