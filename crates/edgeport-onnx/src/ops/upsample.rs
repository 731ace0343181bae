//! Upsample (opset 7-9): scales attribute (7-8) or constant input (9); nearest or linear,
//! imported as an asymmetric Resize with onnxruntime's simple nearest rounding.

use edgeport_ir::ops::CoordMode;

use super::resize;
use crate::context::Ctx;
use crate::error::Result;

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
    let scales = match ctx.attr_floats("scales")? {
        Some(s) if ctx.opset() < 9 => s,
        _ => ctx.const_input(1, "scales")?.to_f32_vec(),
    };
    let coord = CoordMode::Asymmetric;
    let size = resize::sizes_from_scales(ctx, &xs, &scales, coord)?;
    resize::emit(ctx, x, &resize::Spec { linear, coord, nearest: None }, size)
}
