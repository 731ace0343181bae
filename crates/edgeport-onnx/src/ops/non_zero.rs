//! NonZero (opset 9+): folded when the input is constant (its output shape depends on the
//! data); unsupported otherwise.

use edgeport_ir::Tensor;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let ts = common::require_all_const(ctx)?;
    let Some(x) = ts.first() else {
        return Err(ctx.invalid("expects one input"));
    };
    let shape = x.shape().to_vec();
    let values = x.to_f32_vec();
    let nz: Vec<usize> = values.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, _)| i).collect();
    let strides = edgeport_ir::eval::strides(&shape);
    let rank = shape.len();
    common::fold_size(ctx, &[rank, nz.len()])?;
    let mut out = vec![0i64; rank * nz.len()];
    for (k, &flat) in nz.iter().enumerate() {
        for d in 0..rank {
            out[d * nz.len() + k] = ((flat / strides[d]) % shape[d].max(1)) as i64;
        }
    }
    let t = Tensor::from_i64(vec![rank, nz.len()], out).map_err(|e| ctx.invalid(e.to_string()))?;
    common::output_const(ctx, t)
}
