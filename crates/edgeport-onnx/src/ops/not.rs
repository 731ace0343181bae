//! Not (opset 1+): folded when the input is constant; unsupported otherwise.

use edgeport_ir::{Tensor, TensorData};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let ts = common::require_all_const(ctx)?;
    let Some(TensorData::Bool(v)) = ts.first().map(|t| t.data()) else {
        return Err(ctx.invalid("expects one bool input"));
    };
    let shape = ts.first().map(|t| t.shape().to_vec()).unwrap_or_default();
    let t = Tensor::new(shape, TensorData::Bool(v.iter().map(|b| !b).collect())).map_err(|e| ctx.invalid(e.to_string()))?;
    common::output_const(ctx, t)
}
