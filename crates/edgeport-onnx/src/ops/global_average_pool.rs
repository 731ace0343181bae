//! GlobalAveragePool: ReduceMean over every spatial axis (2..rank) keeping dims.

use edgeport_ir::ops::ReduceKind;

use super::window;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    window::global_pool(ctx, ReduceKind::Mean)
}
