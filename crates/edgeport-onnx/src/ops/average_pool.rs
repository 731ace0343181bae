//! AveragePool (opset 7+): count_include_pad, ceil_mode (opset 10+), pads/auto_pad; 1-D or 2-D.

use edgeport_ir::ops::PoolKind;

use super::window;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    window::pool(ctx, PoolKind::Avg)
}
