//! Gemm (opset 7+): `alpha * A' @ B' + beta * C`, lowered to MatMul plus Add. A constant B is
//! transposed and scaled at import (transA becomes a Transpose node); beta * C is folded
//! into the constant when C is constant.

use edgeport_ir::ops::BinaryOp;
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let (mut a, mut b) = (ctx.input(0)?, ctx.input(1)?);
    let c = ctx.opt_input(2)?;
    let alpha = ctx.attr_f("alpha", 1.0)?;
    let beta = ctx.attr_f("beta", 1.0)?;
    let dtype = ctx.dtype(a);
    if ctx.rank(a) != 2 || ctx.rank(b) != 2 || !dtype.is_float() {
        return Err(ctx.invalid(format!("expects float matrices, got {:?} and {:?}", ctx.shape(a), ctx.shape(b))));
    }
    if ctx.attr_i("transA", 0)? != 0 {
        a = ctx.emit1("transpose_a", Op::Transpose { perm: vec![1, 0] }, vec![a])?;
    }
    if ctx.attr_i("transB", 0)? != 0 {
        b = ctx.emit1("transpose_b", Op::Transpose { perm: vec![1, 0] }, vec![b])?;
    }
    let b_const = ctx.is_const(b);
    if alpha != 1.0 && b_const {
        let k = common::scalar_const(ctx, "alpha", ctx.dtype(b), alpha)?;
        b = ctx.emit1("scale_b", Op::Binary(BinaryOp::Mul), vec![b, k])?;
    }
    let last_is_matmul = c.is_none() || beta == 0.0;
    let mut y = ctx.emit1(if last_is_matmul && (alpha == 1.0 || b_const) { "" } else { "matmul" }, Op::MatMul, vec![a, b])?;
    if alpha != 1.0 && !b_const {
        let k = common::scalar_const(ctx, "alpha", dtype, alpha)?;
        y = ctx.emit1(if last_is_matmul { "" } else { "scale" }, Op::Binary(BinaryOp::Mul), vec![y, k])?;
    }
    if let (Some(mut c), false) = (c, beta == 0.0) {
        if beta != 1.0 {
            let k = common::scalar_const(ctx, "beta", ctx.dtype(c), beta)?;
            c = ctx.emit1("scale_c", Op::Binary(BinaryOp::Mul), vec![c, k])?;
        }
        y = ctx.emit1("", Op::Binary(BinaryOp::Add), vec![y, c])?;
    }
    ctx.set_output(0, y)
}
