//! Range (opset 11+): folded when start, limit and delta are constant; unsupported otherwise.

use edgeport_ir::{DType, Tensor};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let ts = common::require_all_const(ctx)?;
    let [start, limit, delta] = ts.as_slice() else {
        return Err(ctx.invalid("expects start, limit and delta"));
    };
    if [start, limit, delta].iter().any(|t| t.len() != 1) {
        return Err(ctx.invalid("start, limit and delta must be scalars"));
    }
    let dtype = start.dtype();
    let t = if dtype.is_float() {
        let (s, l, d) = (start.to_f32_vec()[0], limit.to_f32_vec()[0], delta.to_f32_vec()[0]);
        let n = ((l - s) / d).ceil();
        if d == 0.0 || !n.is_finite() {
            return Err(ctx.invalid("delta must be non-zero"));
        }
        let n = n.max(0.0) as u64 as usize;
        common::fold_size(ctx, &[n])?;
        let v: Vec<f32> = (0..n).map(|i| s + i as f32 * d).collect();
        Tensor::from_f32(vec![n], v).map_err(|e| ctx.invalid(e.to_string()))?.cast(dtype)
    } else {
        let (s, l, d) = (start.to_i64_vec()[0], limit.to_i64_vec()[0], delta.to_i64_vec()[0]);
        if d == 0 {
            return Err(ctx.invalid("delta must be non-zero"));
        }
        let span = l as i128 - s as i128;
        let d128 = d as i128;
        let n = if (span > 0) == (d128 > 0) && span != 0 { (span + d128 - d128.signum()) / d128 } else { 0 };
        let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
        common::fold_size(ctx, &[n])?;
        let v: Vec<i64> = (0..n).map(|i| s.wrapping_add((i as i64).wrapping_mul(d))).collect();
        let t = Tensor::from_i64(vec![n], v).map_err(|e| ctx.invalid(e.to_string()))?;
        if dtype == DType::I64 { t } else { t.cast(dtype) }
    };
    common::output_const(ctx, t)
}
