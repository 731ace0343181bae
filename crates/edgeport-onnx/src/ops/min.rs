//! Min (opset 8+): variadic, numpy-broadcasting; a chain of binary Min nodes.

use edgeport_ir::ops::BinaryOp;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let y = common::variadic(ctx, BinaryOp::Min)?;
    ctx.set_output(0, y)
}
