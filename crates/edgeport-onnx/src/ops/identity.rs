//! Identity: removed, its output aliases its input.

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    common::alias(ctx)
}
