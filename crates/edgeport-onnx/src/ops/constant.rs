//! Constant (opset 1+): `value` (a tensor), `value_float(s)`, `value_int(s)`. String and
//! sparse values are not supported.

use edgeport_ir::Tensor;

use super::common;
use crate::context::Ctx;
use crate::error::Result;
use crate::tensor::tensor_from_proto;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let fallback = ctx.output_name(0);
    let t = if let Some(t) = ctx.attr_tensor("value")? {
        tensor_from_proto(t, &fallback)?
    } else if let Some(f) = ctx.attr_opt_f("value_float")? {
        Tensor::scalar_f32(f)
    } else if let Some(v) = ctx.attr_floats("value_floats")? {
        Tensor::from_f32(vec![v.len()], v).map_err(|e| ctx.invalid(e.to_string()))?
    } else if let Some(i) = ctx.attr_opt_i("value_int")? {
        Tensor::from_i64(vec![], vec![i]).map_err(|e| ctx.invalid(e.to_string()))?
    } else if let Some(v) = ctx.attr_ints("value_ints")? {
        Tensor::vec_i64(v)
    } else if ctx.has_attr("value_string") || ctx.has_attr("value_strings") {
        return Err(ctx.unsupported("string constants are not supported"));
    } else if ctx.has_attr("sparse_value") {
        return Err(ctx.unsupported("sparse constants are not supported"));
    } else {
        return Err(ctx.invalid("has no value attribute"));
    };
    common::output_const(ctx, t)
}
