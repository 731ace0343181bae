//! Transpose (opset 1+): perm defaults to reversing the axes.

use edgeport_ir::Op;

use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let rank = ctx.rank(x);
    let perm: Vec<usize> = match ctx.attr_ints("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => {
            if p.len() != rank || p.iter().any(|&a| a < 0 || a as u64 >= rank as u64) {
                return Err(ctx.invalid(format!("perm {p:?} is not a permutation of rank {rank}")));
            }
            p.iter().map(|&a| a as usize).collect()
        }
    };
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return ctx.set_output(0, x);
    }
    let y = ctx.emit1("", Op::Transpose { perm }, vec![x])?;
    ctx.set_output(0, y)
}
