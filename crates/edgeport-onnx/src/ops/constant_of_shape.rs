//! ConstantOfShape (opset 9+): the shape input must be constant; `value` is a one-element
//! tensor (float32 zero by default).

use edgeport_ir::Tensor;

use super::common;
use crate::context::Ctx;
use crate::error::Result;
use crate::tensor::tensor_from_proto;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let dims = ctx.opt_const_ints(0, "input")?.ok_or_else(|| ctx.invalid("missing input 'input'"))?;
    let shape = common::to_dims(ctx, &dims, "shape")?;
    let value = match ctx.attr_tensor("value")? {
        Some(t) => tensor_from_proto(t, &ctx.output_name(0))?,
        None => Tensor::scalar_f32(0.0),
    };
    if value.len() != 1 {
        return Err(ctx.invalid(format!("value must hold one element, got shape {:?}", value.shape())));
    }
    let value = value.reshaped(vec![]).map_err(|e| ctx.invalid(e.to_string()))?;
    let t = common::broadcast_const(ctx, &value, &shape)?;
    common::output_const(ctx, t)
}
