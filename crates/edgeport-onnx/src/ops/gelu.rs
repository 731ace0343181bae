//! Gelu (opset 20+): approximate = "none" (erf) or "tanh".

use edgeport_ir::ops::UnaryOp;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let u = match ctx.attr_s("approximate", "none")?.as_str() {
        "none" => UnaryOp::Gelu,
        "tanh" => UnaryOp::GeluTanh,
        other => return Err(ctx.invalid(format!("unknown approximate '{other}'"))),
    };
    common::unary(ctx, u)
}
