//! Conv (opset 1+): 2-D (and 1-D, as 2-D over H = 1) convolution with group/depthwise,
//! strides, dilations, explicit pads or auto_pad. The weight must be constant.

use edgeport_ir::ops::Conv;
use edgeport_ir::{Layout, Op};

use super::{common, window};
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let w = ctx.input(1)?;
    let b = ctx.opt_input(2)?;
    let xs = ctx.shape(x);
    if xs.len() != 3 && xs.len() != 4 {
        return Err(ctx.unsupported(format!("only 1-D and 2-D convolutions are supported, input has shape {xs:?}")));
    }
    if !ctx.is_const(w) {
        return Err(ctx.unsupported("the weight input must be constant"));
    }
    let ws = ctx.shape(w);
    if ws.len() != xs.len() {
        return Err(ctx.invalid(format!("weight {ws:?} does not match input {xs:?}")));
    }
    let kernel = ws[2..].to_vec();
    if let Some(k) = ctx.attr_ints("kernel_shape")?
        && (k.len() != kernel.len() || k.iter().zip(&kernel).any(|(&a, &b)| a != b as i64)) {
            return Err(ctx.invalid(format!("kernel_shape {k:?} does not match weight {ws:?}")));
        }
    let group = ctx.attr_i("group", 1)?;
    let group = common::small(ctx, group, "group")?;
    if group == 0 || ws[1].checked_mul(group) != Some(xs[1]) {
        return Err(ctx.invalid(format!("{} input channels do not match weight {ws:?} with group {group}", xs[1])));
    }
    let win = window::window(ctx, &xs[2..], &kernel)?;
    let op = Op::Conv(Conv {
        strides: win.strides,
        dilations: win.dilations,
        pads: win.pads,
        group,
        layout: Layout::Nchw,
    });
    if xs.len() == 4 {
        let mut inputs = vec![x, w];
        inputs.extend(b);
        let y = ctx.emit1("", op, inputs)?;
        return ctx.set_output(0, y);
    }
    // 1-D: [N, C, L] -> [N, C, 1, L], weight [O, I, K] -> [O, I, 1, K], and back.
    let x4 = common::reshape(ctx, "to_2d", x, window::as_4d(&xs))?;
    let w4 = common::reshape(ctx, "weight_2d", w, window::as_4d(&ws))?;
    let mut inputs = vec![x4, w4];
    inputs.extend(b);
    let y4 = ctx.emit1("", op, inputs)?;
    let mut ys = ctx.shape(y4);
    ys.remove(2);
    let y = common::reshape(ctx, "to_1d", y4, ys)?;
    ctx.set_output(0, y)
}
