//! Erf (opset 6+): elementwise, float inputs.

use edgeport_ir::ops::UnaryOp;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    common::unary(ctx, UnaryOp::Erf)
}
