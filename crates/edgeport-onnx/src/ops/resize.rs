//! Resize (opset 10, 11, 13, 18, 19): 4-D inputs resized over H and W only, from constant
//! scales or sizes. Modes nearest (with nearest_mode) and linear; coordinate transformation
//! modes half_pixel, pytorch_half_pixel, align_corners and asymmetric. Opset 10 is asymmetric
//! with onnxruntime's simple rounding (floor when upsampling, ceil when downsampling).
//! Everything else (cubic, tf_crop_and_resize, antialias, resizing N or C, fractional output
//! sizes from scales) is unsupported with the reason.

use edgeport_ir::ops::{CoordMode, NearestMode, Resize, ResizeMode};
use edgeport_ir::{Layout, Op, ValueId};

use super::common;
use crate::context::Ctx;
use crate::error::Result;

/// What the model asked for, before output sizes are known.
pub struct Spec {
    pub linear: bool,
    pub coord: CoordMode,
    /// None: onnxruntime's "simple" rounding, chosen per axis from the scale.
    pub nearest: Option<NearestMode>,
}

/// Output H, W from per-axis scales of a rank-4 input; N and C must keep their size.
pub fn sizes_from_scales(ctx: &Ctx, xs: &[usize], scales: &[f32], coord: CoordMode) -> Result<[usize; 2]> {
    if scales.len() != 4 || xs.len() != 4 {
        return Err(ctx.invalid(format!("scales {scales:?} do not match input {xs:?}")));
    }
    if scales[0] != 1.0 || scales[1] != 1.0 {
        return Err(ctx.unsupported(format!("only H and W can be resized, scales are {scales:?}")));
    }
    let mut out = [0usize; 2];
    for i in 0..2 {
        let (d, s) = (xs[i + 2], scales[i + 2]);
        if !(s > 0.0 && s.is_finite()) {
            return Err(ctx.invalid(format!("scale {s} must be positive")));
        }
        let exact = d as f32 * s;
        let o = exact.floor();
        if o < 1.0 || o > edgeport_ir::limits::MAX_DIM as f32 {
            return Err(ctx.invalid(format!("scale {s} on a dim of {d} gives output size {o}")));
        }
        if coord != CoordMode::AlignCorners && (exact - o).abs() > 1e-4 {
            return Err(ctx.unsupported(format!(
                "scale {s} on a dim of {d} gives a fractional output size {exact}; give sizes instead of scales"
            )));
        }
        out[i] = o as usize;
    }
    Ok(out)
}

/// Emit the IR Resize of `x` to `size` (H, W), or alias when nothing changes.
pub fn emit(ctx: &mut Ctx, x: ValueId, spec: &Spec, size: [usize; 2]) -> Result<()> {
    let xs = ctx.shape(x);
    if xs.len() != 4 {
        return Err(ctx.unsupported(format!("only 4-D inputs (N, C, H, W) are supported, got {xs:?}")));
    }
    if xs[2] == size[0] && xs[3] == size[1] {
        return ctx.set_output(0, x);
    }
    let mode = if spec.linear {
        ResizeMode::Linear
    } else {
        match spec.nearest {
            Some(n) => ResizeMode::Nearest(n),
            None => {
                // onnxruntime's simple rounding: floor when upsampling, ceil when downsampling.
                let down: Vec<bool> = (0..2).filter(|&i| xs[i + 2] != size[i]).map(|i| size[i] < xs[i + 2]).collect();
                if down.iter().all(|&d| d) {
                    ResizeMode::Nearest(NearestMode::Ceil)
                } else if down.iter().all(|&d| !d) {
                    ResizeMode::Nearest(NearestMode::Floor)
                } else {
                    return Err(ctx.unsupported("nearest resize that upsamples one axis and downsamples the other"));
                }
            }
        }
    };
    let op = Op::Resize(Resize { mode, coord: spec.coord, size, layout: Layout::Nchw });
    let y = ctx.emit1("", op, vec![x])?;
    ctx.set_output(0, y)
}


pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    if xs.len() != 4 {
        return Err(ctx.unsupported(format!("only 4-D inputs (N, C, H, W) are supported, got {xs:?}")));
    }
    let linear = match ctx.attr_s("mode", "nearest")?.as_str() {
        "nearest" => false,
        "linear" | "bilinear" => true,
        other => return Err(ctx.unsupported(format!("mode '{other}' is not supported"))),
    };
    if ctx.opset() < 11 {
        let scales = ctx.const_input(1, "scales")?.to_f32_vec();
        let coord = CoordMode::Asymmetric;
        let size = sizes_from_scales(ctx, &xs, &scales, coord)?;
        return emit(ctx, x, &Spec { linear, coord, nearest: None }, size);
    }
    let coord = match ctx.attr_s("coordinate_transformation_mode", "half_pixel")?.as_str() {
        "half_pixel" => CoordMode::HalfPixel,
        "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
        "align_corners" => CoordMode::AlignCorners,
        "asymmetric" => CoordMode::Asymmetric,
        other => return Err(ctx.unsupported(format!("coordinate_transformation_mode '{other}' is not supported"))),
    };
    let nearest = match ctx.attr_s("nearest_mode", "round_prefer_floor")?.as_str() {
        "round_prefer_floor" => NearestMode::RoundPreferFloor,
        "round_prefer_ceil" => NearestMode::RoundPreferCeil,
        "floor" => NearestMode::Floor,
        "ceil" => NearestMode::Ceil,
        other => return Err(ctx.invalid(format!("unknown nearest_mode '{other}'"))),
    };
    if ctx.attr_i("antialias", 0)? != 0 {
        return Err(ctx.unsupported("antialias is not supported"));
    }
    let policy = ctx.attr_s("keep_aspect_ratio_policy", "stretch")?;
    // Opset 18 `axes`: scales / sizes list only those axes.
    let axes = match ctx.attr_ints("axes")? {
        Some(a) => Some(common::norm_axes(ctx, &a, 4)?),
        None => None,
    };
    let full = |given: Vec<f32>, fill: &dyn Fn(usize) -> f32| -> Option<Vec<f32>> {
        match &axes {
            None => Some(given),
            Some(a) if a.len() == given.len() => {
                let mut v: Vec<f32> = (0..4).map(fill).collect();
                for (&ax, g) in a.iter().zip(given) {
                    *v.get_mut(ax)? = g;
                }
                Some(v)
            }
            Some(_) => None,
        }
    };
    let scales = ctx.opt_const_input(2, "scales")?.map(|t| t.to_f32_vec()).filter(|v| !v.is_empty());
    let sizes = ctx.opt_const_ints(3, "sizes")?.filter(|v| !v.is_empty());
    let spec = Spec { linear, coord, nearest: Some(nearest) };
    let size = match (scales, sizes) {
        (Some(s), None) => {
            let s = full(s, &|_| 1.0).ok_or_else(|| ctx.invalid("scales do not match axes"))?;
            sizes_from_scales(ctx, &xs, &s, coord)?
        }
        (None, Some(z)) => {
            if policy != "stretch" {
                return Err(ctx.unsupported(format!("keep_aspect_ratio_policy '{policy}' is not supported")));
            }
            let zf: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            let z = full(zf, &|i| xs[i] as f32).ok_or_else(|| ctx.invalid("sizes do not match axes"))?;
            let z: Vec<i64> = z.iter().map(|&v| v as i64).collect();
            let dims = common::to_dims(ctx, &z, "sizes")?;
            if dims.len() != 4 {
                return Err(ctx.invalid(format!("sizes {dims:?} do not match input {xs:?}")));
            }
            if dims[0] != xs[0] || dims[1] != xs[1] {
                return Err(ctx.unsupported(format!("only H and W can be resized, sizes are {dims:?} for input {xs:?}")));
            }
            if dims[2] == 0 || dims[3] == 0 {
                return Err(ctx.invalid(format!("sizes {dims:?} are empty")));
            }
            [dims[2], dims[3]]
        }
        (Some(_), Some(_)) => return Err(ctx.invalid("only one of scales and sizes may be given")),
        (None, None) => return Err(ctx.invalid("needs scales or sizes")),
    };
    emit(ctx, x, &spec, size)
}
