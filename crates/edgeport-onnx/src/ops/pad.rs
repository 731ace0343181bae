//! Pad: pads/value attributes (opset < 11) or constant inputs pads, constant_value and axes
//! (opset 11+, axes from 18); modes constant, reflect and edge. Negative pads crop, as a
//! Slice before the Pad.

use edgeport_ir::ops::{Pad, PadMode, Slice};
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let rank = xs.len();
    let mode = ctx.attr_s("mode", "constant")?;
    let (pads, value, axes) = if ctx.opset() < 11 {
        let pads = ctx.attr_ints("pads")?.ok_or_else(|| ctx.invalid("missing attribute 'pads'"))?;
        (pads, ctx.attr_f("value", 0.0)?, None)
    } else {
        let pads = ctx.opt_const_ints(1, "pads")?.ok_or_else(|| ctx.invalid("missing input 'pads'"))?;
        let value = ctx.opt_const_scalar_f32(2, "constant_value")?.unwrap_or(0.0);
        let axes = if ctx.opset() >= 18 { ctx.opt_const_ints(3, "axes")? } else { None };
        (pads, value, axes)
    };
    let axes: Vec<usize> = match axes {
        Some(a) => {
            let mut seen = vec![false; rank];
            let mut out = Vec::with_capacity(a.len());
            for &ax in &a {
                let n = common::norm_axis(ctx, ax, rank)?;
                if std::mem::replace(&mut seen[n], true) {
                    return Err(ctx.invalid(format!("axes {a:?} repeat axis {n}")));
                }
                out.push(n);
            }
            out
        }
        None => (0..rank).collect(),
    };
    let k = axes.len();
    if pads.len() != 2 * k {
        return Err(ctx.invalid(format!("pads {pads:?} need {} values", 2 * k)));
    }
    // Per-axis (begin, end) as signed amounts.
    let mut amounts = vec![[0i64; 2]; rank];
    for (i, &a) in axes.iter().enumerate() {
        amounts[a] = [pads[i], pads[i + k]];
    }
    let limit = edgeport_ir::limits::MAX_DIM as i64;
    if amounts.iter().flatten().any(|&p| p.unsigned_abs() > limit as u64) {
        return Err(ctx.invalid(format!("pads {pads:?} are out of range")));
    }
    let mode = match mode.as_str() {
        "constant" => PadMode::Constant(value),
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        other => return Err(ctx.unsupported(format!("mode '{other}' is not supported"))),
    };
    let mut y = x;
    // Crop first: negative pads remove elements from that side.
    if amounts.iter().flatten().any(|&p| p < 0) {
        let mut slice = Slice { axes: vec![], starts: vec![], ends: vec![], steps: vec![] };
        for (a, [b, e]) in amounts.iter().enumerate() {
            if *b < 0 || *e < 0 {
                let d = xs[a] as i64;
                let start = (-b).max(0);
                let end = d - (-e).max(0);
                if end < start {
                    return Err(ctx.invalid(format!("pads {pads:?} crop axis {a} of {xs:?} below zero")));
                }
                slice.axes.push(a);
                slice.starts.push(start);
                slice.ends.push(end);
                slice.steps.push(1);
            }
        }
        let positive = amounts.iter().flatten().any(|&p| p > 0);
        y = ctx.emit1(if positive { "crop" } else { "" }, Op::Slice(slice), vec![y])?;
    }
    let pos: Vec<[usize; 2]> = amounts.iter().map(|[b, e]| [(*b).max(0) as usize, (*e).max(0) as usize]).collect();
    if pos.iter().flatten().any(|&p| p > 0) {
        let mut out = ctx.shape(y);
        for (d, [b, e]) in out.iter_mut().zip(&pos) {
            *d = d.saturating_add(*b).saturating_add(*e);
        }
        common::checked(ctx, &out)?;
        y = ctx.emit1("", Op::Pad(Pad { pads: pos, mode }), vec![y])?;
    }
    ctx.set_output(0, y)
}
