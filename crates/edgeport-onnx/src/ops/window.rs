//! Sliding-window attributes shared by Conv, ConvTranspose and the pools: kernel, strides,
//! dilations, explicit pads and `auto_pad`, resolved to the IR's 2-D form. 1-D ops are
//! imported as 2-D ones over an H axis of size 1.

use super::common::small;
use crate::context::Ctx;
use crate::error::Result;

/// 2-D window parameters; pads are (top, left, bottom, right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    pub pads: [usize; 4],
}

/// How `auto_pad` asks for padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPad {
    NotSet,
    Valid,
    SameUpper,
    SameLower,
}

pub fn auto_pad(ctx: &Ctx) -> Result<AutoPad> {
    match ctx.attr_s("auto_pad", "NOTSET")?.as_str() {
        "NOTSET" | "" => Ok(AutoPad::NotSet),
        "VALID" => Ok(AutoPad::Valid),
        "SAME_UPPER" => Ok(AutoPad::SameUpper),
        "SAME_LOWER" => Ok(AutoPad::SameLower),
        other => Err(ctx.invalid(format!("unknown auto_pad '{other}'"))),
    }
}

/// A per-spatial-axis attribute list (strides, dilations) of length `n`, default 1.
pub fn axis_list(ctx: &Ctx, name: &str, n: usize, default: usize) -> Result<Vec<usize>> {
    match ctx.attr_ints(name)? {
        None => Ok(vec![default; n]),
        Some(v) if v.len() == n => v.iter().map(|&x| small(ctx, x, name)).collect(),
        Some(v) => Err(ctx.invalid(format!("attribute '{name}' {v:?} needs {n} values"))),
    }
}

/// Explicit pads attribute `[begin..., end...]` for `n` spatial axes, as (begin, end) pairs.
pub fn explicit_pads(ctx: &Ctx, n: usize) -> Result<Vec<[usize; 2]>> {
    match ctx.attr_ints("pads")? {
        None => Ok(vec![[0, 0]; n]),
        Some(v) if v.len() == 2 * n => {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push([small(ctx, v[i], "pads")?, small(ctx, v[i + n], "pads")?]);
            }
            Ok(out)
        }
        Some(v) => Err(ctx.invalid(format!("attribute 'pads' {v:?} needs {} values", 2 * n))),
    }
}

/// Total SAME padding of one axis and its (begin, end) split.
pub fn same_pads(mode: AutoPad, input: usize, kernel: usize, stride: usize, dilation: usize) -> [usize; 2] {
    let out = input.div_ceil(stride.max(1));
    let span = dilation.saturating_mul(kernel.saturating_sub(1)).saturating_add(1);
    let total = out.saturating_sub(1).saturating_mul(stride).saturating_add(span).saturating_sub(input);
    match mode {
        AutoPad::SameLower => [total - total / 2, total / 2],
        _ => [total / 2, total - total / 2],
    }
}

/// Resolve the window of an op over `spatial` input dims (1 or 2 of them) with `kernel`.
pub fn window(ctx: &Ctx, spatial: &[usize], kernel: &[usize]) -> Result<Window> {
    let n = spatial.len();
    if n != kernel.len() || !(1..=2).contains(&n) {
        return Err(ctx.invalid(format!("kernel {kernel:?} does not match spatial dims {spatial:?}")));
    }
    let strides = axis_list(ctx, "strides", n, 1)?;
    let dilations = axis_list(ctx, "dilations", n, 1)?;
    if strides.contains(&0) || dilations.contains(&0) {
        return Err(ctx.invalid(format!("strides {strides:?} and dilations {dilations:?} must be positive")));
    }
    for &k in kernel {
        small(ctx, k as i64, "kernel")?;
    }
    let pads: Vec<[usize; 2]> = match auto_pad(ctx)? {
        AutoPad::NotSet => explicit_pads(ctx, n)?,
        AutoPad::Valid => vec![[0, 0]; n],
        mode => (0..n).map(|i| same_pads(mode, spatial[i], kernel[i], strides[i], dilations[i])).collect(),
    };
    Ok(to_2d(kernel, &strides, &dilations, &pads))
}

/// Put 1-D parameters on the W axis of a 2-D window (H gets kernel 1, stride 1, no pad).
pub fn to_2d(kernel: &[usize], strides: &[usize], dilations: &[usize], pads: &[[usize; 2]]) -> Window {
    let g = |v: &[usize], i: usize, d: usize| v.get(i).copied().unwrap_or(d);
    let p = |i: usize, j: usize| pads.get(i).map(|x| x[j]).unwrap_or(0);
    if kernel.len() == 1 {
        Window {
            kernel: [1, g(kernel, 0, 1)],
            strides: [1, g(strides, 0, 1)],
            dilations: [1, g(dilations, 0, 1)],
            pads: [0, p(0, 0), 0, p(0, 1)],
        }
    } else {
        Window {
            kernel: [g(kernel, 0, 1), g(kernel, 1, 1)],
            strides: [g(strides, 0, 1), g(strides, 1, 1)],
            dilations: [g(dilations, 0, 1), g(dilations, 1, 1)],
            pads: [p(0, 0), p(1, 0), p(0, 1), p(1, 1)],
        }
    }
}

/// Shape of a rank-3 activation viewed as rank 4 (`[N, C, L]` -> `[N, C, 1, L]`).
pub fn as_4d(shape: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    s.insert(2.min(s.len()), 1);
    s
}

/// AveragePool / MaxPool over 1 or 2 spatial axes. `ceil_mode` becomes extra bottom/right
/// padding chosen so the output size equals ONNX's (a last window starting inside the end
/// padding is dropped, as onnxruntime does). The extra padding behaves like explicit padding
/// (onnxruntime: it counts in the average exactly when count_include_pad is set).
pub fn pool(ctx: &mut Ctx, kind: edgeport_ir::ops::PoolKind) -> Result<()> {
    use edgeport_ir::ops::{Pool, PoolKind};
    use edgeport_ir::{Layout, Op};

    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    if xs.len() != 3 && xs.len() != 4 {
        return Err(ctx.unsupported(format!("only 1-D and 2-D pooling is supported, input has shape {xs:?}")));
    }
    if ctx.output_used(1) {
        return Err(ctx.unsupported("the Indices output is not supported"));
    }
    let n = xs.len() - 2;
    let Some(kernel) = ctx.attr_ints("kernel_shape")? else {
        return Err(ctx.invalid("missing attribute 'kernel_shape'"));
    };
    if kernel.len() != n {
        return Err(ctx.invalid(format!("kernel_shape {kernel:?} does not match input {xs:?}")));
    }
    let kernel = kernel.iter().map(|&k| small(ctx, k, "kernel_shape")).collect::<Result<Vec<_>>>()?;
    if kernel.contains(&0) {
        return Err(ctx.invalid(format!("kernel_shape {kernel:?} must be positive")));
    }
    if axis_list(ctx, "dilations", n, 1)?.iter().any(|&d| d != 1) {
        return Err(ctx.unsupported("dilated pooling is not supported"));
    }
    let spatial = &xs[2..];
    let mut win = window(ctx, spatial, &kernel)?;
    let ceil_mode = ctx.attr_i("ceil_mode", 0)? != 0;
    // onnxruntime treats the extra ceil padding exactly like explicit padding: with
    // count_include_pad it counts in the divisor, without it it does not.
    let count_include_pad = kind == PoolKind::Avg && ctx.attr_i("count_include_pad", 0)? != 0;
    if ceil_mode && auto_pad(ctx)? == AutoPad::NotSet {
        // Axis a of the 2-D window: (axis, input, pad begin index, pad end index).
        let axes: Vec<(usize, usize, usize, usize)> = if n == 1 {
            vec![(1, spatial[0], 1, 3)]
        } else {
            vec![(0, spatial[0], 0, 2), (1, spatial[1], 1, 3)]
        };
        for (a, input, pb, pe) in axes {
            let (k, s) = (win.kernel[a], win.strides[a]);
            let padded = input + win.pads[pb] + win.pads[pe];
            if padded < k {
                break; // the IR reports the window that does not fit
            }
            let mut out = (padded - k).div_ceil(s) + 1;
            if (out - 1) * s >= input + win.pads[pb] {
                out -= 1;
            }
            let need = (out - 1) * s + k;
            if need > padded {
                win.pads[pe] += need - padded;
            }
        }
    }
    let op = Op::Pool(Pool {
        kind,
        kernel: win.kernel,
        strides: win.strides,
        pads: win.pads,
        count_include_pad,
        layout: Layout::Nchw,
    });
    if n == 2 {
        let y = ctx.emit1("", op, vec![x])?;
        return ctx.set_output(0, y);
    }
    let x4 = super::common::reshape(ctx, "to_2d", x, as_4d(&xs))?;
    let y4 = ctx.emit1("", op, vec![x4])?;
    let mut ys = ctx.shape(y4);
    ys.remove(2);
    let y = super::common::reshape(ctx, "to_1d", y4, ys)?;
    ctx.set_output(0, y)
}

/// GlobalAveragePool / GlobalMaxPool: a keep-dims reduction over every spatial axis.
pub fn global_pool(ctx: &mut Ctx, kind: edgeport_ir::ops::ReduceKind) -> Result<()> {
    use edgeport_ir::ops::Reduce;
    use edgeport_ir::Op;

    let x = ctx.input(0)?;
    let rank = ctx.rank(x);
    if rank < 3 {
        return Err(ctx.invalid(format!("expects an input of rank >= 3, got {:?}", ctx.shape(x))));
    }
    let y = ctx.emit1("", Op::Reduce(Reduce { kind, axes: (2..rank).collect(), keep_dims: true }), vec![x])?;
    ctx.set_output(0, y)
}
