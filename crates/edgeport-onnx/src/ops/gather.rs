//! Gather (opset 1+): constant indices are normalized (negative ones count from the end) and
//! range-checked; indices computed at run time are passed on as they are.

use edgeport_ir::{Op, Tensor};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let idx = ctx.input(1)?;
    let xs = ctx.shape(x);
    let axis = common::norm_axis(ctx, ctx.attr_i("axis", 0)?, xs.len())?;
    let dim = xs[axis] as i64;
    let idx = match ctx.const_of(idx) {
        Some(t) => {
            let mut v = t.to_i64_vec();
            for i in v.iter_mut() {
                let j = if *i < 0 { *i + dim } else { *i };
                if !(0..dim).contains(&j) {
                    return Err(ctx.invalid(format!("index {i} is out of range for axis {axis} of {xs:?}")));
                }
                *i = j;
            }
            if v == t.to_i64_vec() && t.dtype() == edgeport_ir::DType::I64 {
                idx
            } else {
                let t = Tensor::from_i64(t.shape().to_vec(), v).map_err(|e| ctx.invalid(e.to_string()))?;
                ctx.constant("indices", t)
            }
        }
        None => idx,
    };
    let y = ctx.emit1("", Op::Gather { axis }, vec![x, idx])?;
    ctx.set_output(0, y)
}
