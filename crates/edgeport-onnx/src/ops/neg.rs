//! Neg (opset 6+): float data as a unary op, integer data as `0 - x`.

use edgeport_ir::ops::{BinaryOp, UnaryOp};
use edgeport_ir::{Op, Tensor};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let dtype = ctx.dtype(x);
    if dtype.is_float() {
        return common::unary(ctx, UnaryOp::Neg);
    }
    let zero = ctx.constant("zero", Tensor::zeros(dtype, vec![]));
    let y = ctx.emit1("", Op::Binary(BinaryOp::Sub), vec![zero, x])?;
    ctx.set_output(0, y)
}
