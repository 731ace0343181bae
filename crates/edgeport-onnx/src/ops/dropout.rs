//! Dropout (inference): removed, its output aliases its input. A mask output that is read
//! becomes an all-true constant.

use edgeport_ir::{Tensor, TensorData};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    if ctx.attr_i("is_test", 1)? == 0 && ctx.opset() < 7 {
        return Err(ctx.unsupported("training mode"));
    }
    if let Some(mode) = ctx.opt_input(2)? {
        match ctx.const_of(mode) {
            Some(t) if t.to_i64_vec().iter().all(|&v| v == 0) => {}
            _ => return Err(ctx.unsupported("training_mode must be a constant false")),
        }
    }
    ctx.set_output(0, x)?;
    if ctx.output_used(1) {
        let shape = ctx.shape(x);
        let n = common::fold_size(ctx, &shape)?;
        let mask = Tensor::new(shape, TensorData::Bool(vec![true; n])).map_err(|e| ctx.invalid(e.to_string()))?;
        let id = ctx.constant("mask", mask);
        ctx.set_output(1, id)?;
    }
    Ok(())
}
