//! Sub (opset 7+): numpy-broadcasting binary op.

use edgeport_ir::ops::BinaryOp;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    common::binary(ctx, BinaryOp::Sub)
}
