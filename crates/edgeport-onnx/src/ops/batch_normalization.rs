//! BatchNormalization (inference): `x * s + t` with per-channel constants shaped `[C, 1, ...]`
//! (s = scale / sqrt(var + eps), t = bias - mean * s). A later pass folds them into the
//! preceding convolution. Scale, bias, mean and variance must be constant.

use edgeport_ir::ops::BinaryOp;
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    if ctx.attr_i("spatial", 1)? == 0 {
        return Err(ctx.unsupported("spatial = 0 (per-activation statistics) is not supported"));
    }
    if ctx.attr_i("training_mode", 0)? != 0 {
        return Err(ctx.unsupported("training_mode is not supported"));
    }
    let eps = ctx.attr_f("epsilon", 1e-5)?;
    let scale = ctx.const_input(1, "scale")?.to_f32_vec();
    let bias = ctx.const_input(2, "B")?.to_f32_vec();
    let mean = ctx.const_input(3, "input_mean")?.to_f32_vec();
    let var = ctx.const_input(4, "input_var")?.to_f32_vec();
    let xs = ctx.shape(x);
    let dtype = ctx.dtype(x);
    if xs.len() < 2 || !dtype.is_float() {
        return Err(ctx.invalid(format!("expects a float input of rank >= 2, got {dtype} {xs:?}")));
    }
    let c = xs[1];
    if [&scale, &bias, &mean, &var].iter().any(|v| v.len() != c) {
        return Err(ctx.invalid(format!(
            "scale, B, mean and var must each hold {c} values, got {}, {}, {}, {}",
            scale.len(),
            bias.len(),
            mean.len(),
            var.len()
        )));
    }
    let s: Vec<f32> = (0..c).map(|i| scale[i] / (var[i] + eps).sqrt()).collect();
    let t: Vec<f32> = (0..c).map(|i| bias[i] - mean[i] * s[i]).collect();
    let mut shape = vec![c];
    shape.extend(std::iter::repeat_n(1, xs.len() - 2));
    let sc = common::float_const(ctx, "scale", dtype, shape.clone(), s)?;
    let bc = common::float_const(ctx, "shift", dtype, shape, t)?;
    let y = ctx.emit1("", Op::Binary(BinaryOp::Mul), vec![x, sc])?;
    let y = ctx.emit1("add", Op::Binary(BinaryOp::Add), vec![y, bc])?;
    ctx.set_output(0, y)
}
