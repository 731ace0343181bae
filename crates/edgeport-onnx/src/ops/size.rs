//! Size (opset 1+): a constant int64 scalar.

use edgeport_ir::Tensor;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let n = ctx.ty(x).elements() as i64;
    let t = Tensor::from_i64(vec![], vec![n]).map_err(|e| ctx.invalid(e.to_string()))?;
    common::output_const(ctx, t)
}
