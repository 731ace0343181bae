//! ConvTranspose (opset 1+): 2-D (and 1-D) transposed convolution with group, strides,
//! dilations, output_padding, explicit pads, auto_pad, or an output_shape from which pads
//! are derived (ONNX rule: SAME_UPPER puts the odd pad at the end, otherwise at the start).
//! The weight must be constant.

use edgeport_ir::ops::ConvTranspose;
use edgeport_ir::{Layout, Op};

use super::window::{self, AutoPad};
use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let w = ctx.input(1)?;
    let b = ctx.opt_input(2)?;
    let xs = ctx.shape(x);
    if xs.len() != 3 && xs.len() != 4 {
        return Err(ctx.unsupported(format!("only 1-D and 2-D transposed convolutions are supported, input has shape {xs:?}")));
    }
    if !ctx.is_const(w) {
        return Err(ctx.unsupported("the weight input must be constant"));
    }
    let ws = ctx.shape(w);
    if ws.len() != xs.len() {
        return Err(ctx.invalid(format!("weight {ws:?} does not match input {xs:?}")));
    }
    let n = xs.len() - 2;
    let kernel = ws[2..].to_vec();
    if let Some(k) = ctx.attr_ints("kernel_shape")?
        && (k.len() != n || k.iter().zip(&kernel).any(|(&a, &b)| a != b as i64)) {
            return Err(ctx.invalid(format!("kernel_shape {k:?} does not match weight {ws:?}")));
        }
    let group = ctx.attr_i("group", 1)?;
    let group = common::small(ctx, group, "group")?;
    if group == 0 || group > xs[1] || ws[1].checked_mul(group).is_none_or(|o| o > edgeport_ir::limits::MAX_DIM) {
        return Err(ctx.invalid(format!("weight {ws:?} does not match {} input channels with group {group}", xs[1])));
    }
    let strides = window::axis_list(ctx, "strides", n, 1)?;
    let dilations = window::axis_list(ctx, "dilations", n, 1)?;
    let output_padding = window::axis_list(ctx, "output_padding", n, 0)?;
    if strides.contains(&0) || dilations.contains(&0) {
        return Err(ctx.invalid(format!("strides {strides:?} and dilations {dilations:?} must be positive")));
    }
    for &k in &kernel {
        common::small(ctx, k as i64, "kernel")?;
    }
    // Full (uncropped) output extent of each spatial axis.
    let full: Vec<usize> = (0..n)
        .map(|i| {
            strides[i]
                .saturating_mul(xs[i + 2].saturating_sub(1))
                .saturating_add(output_padding[i])
                .saturating_add(dilations[i].saturating_mul(kernel[i].saturating_sub(1)))
                .saturating_add(1)
        })
        .collect();
    let mode = window::auto_pad(ctx)?;
    let output_shape = ctx.attr_ints("output_shape")?;
    let split = |total: usize| match mode {
        AutoPad::SameUpper => [total / 2, total - total / 2],
        _ => [total - total / 2, total / 2],
    };
    let pads: Vec<[usize; 2]> = if let Some(os) = output_shape {
        // output_shape may list all dims or just the spatial ones.
        let spatial = os.get(os.len().saturating_sub(n)..).unwrap_or_default();
        if spatial.len() != n {
            return Err(ctx.invalid(format!("output_shape {os:?} needs {n} spatial dims")));
        }
        let mut pads = Vec::with_capacity(n);
        for i in 0..n {
            let want = common::small(ctx, spatial[i], "output_shape")?;
            let Some(total) = full[i].checked_sub(want) else {
                return Err(ctx.unsupported(format!("output_shape {os:?} is larger than the full output {full:?}")));
            };
            pads.push(split(total));
        }
        pads
    } else {
        match mode {
            AutoPad::NotSet => window::explicit_pads(ctx, n)?,
            AutoPad::Valid => vec![[0, 0]; n],
            AutoPad::SameUpper | AutoPad::SameLower => {
                let mut pads = Vec::with_capacity(n);
                for i in 0..n {
                    let want = xs[i + 2].saturating_mul(strides[i]);
                    let Some(total) = full[i].checked_sub(want) else {
                        return Err(ctx.unsupported(format!("auto_pad SAME needs output {want} larger than the full output {}", full[i])));
                    };
                    pads.push(split(total));
                }
                pads
            }
        }
    };
    let win = window::to_2d(&kernel, &strides, &dilations, &pads);
    let output_padding = if n == 1 { [0, output_padding[0]] } else { [output_padding[0], output_padding[1]] };
    let op = Op::ConvTranspose(ConvTranspose {
        strides: win.strides,
        dilations: win.dilations,
        pads: win.pads,
        output_padding,
        group,
        layout: Layout::Nchw,
    });
    if n == 2 {
        let mut inputs = vec![x, w];
        inputs.extend(b);
        let y = ctx.emit1("", op, inputs)?;
        return ctx.set_output(0, y);
    }
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
