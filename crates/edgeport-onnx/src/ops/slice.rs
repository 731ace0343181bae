//! Slice: starts/ends/axes attributes (opset < 10) or constant inputs with optional axes and
//! steps (opset 10+). Bounds are clamped by the ONNX rules (negative values count from the
//! end, INT_MAX / INT_MIN mean "to the end"); steps may be negative.

use edgeport_ir::ops::Slice;
use edgeport_ir::Op;

use super::common;
use crate::context::Ctx;
use crate::error::Result;

/// Clamp one axis' (start, end, step) into the form the IR expects.
pub fn clamp(start: i64, end: i64, step: i64, dim: usize) -> (i64, i64, i64) {
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let (s, e) = (norm(start), norm(end));
    // A step larger than the axis takes at most one element; bounding it keeps arithmetic small.
    let step = step.clamp(-(d + 1), d + 1);
    if d == 0 {
        return (0, 0, if step == 0 { 1 } else { step });
    }
    if step > 0 {
        (s.clamp(0, d), e.clamp(0, d), step)
    } else {
        (s.clamp(0, d - 1), e.clamp(-1, d - 1), step)
    }
}

pub fn import(ctx: &mut Ctx) -> Result<()> {
    let x = ctx.input(0)?;
    let xs = ctx.shape(x);
    let rank = xs.len();
    let (starts, ends, axes, steps) = if ctx.opset() < 10 {
        let starts = ctx.attr_ints("starts")?.ok_or_else(|| ctx.invalid("missing attribute 'starts'"))?;
        let ends = ctx.attr_ints("ends")?.ok_or_else(|| ctx.invalid("missing attribute 'ends'"))?;
        (starts, ends, ctx.attr_ints("axes")?, None)
    } else {
        let starts = ctx.opt_const_ints(1, "starts")?.ok_or_else(|| ctx.invalid("missing input 'starts'"))?;
        let ends = ctx.opt_const_ints(2, "ends")?.ok_or_else(|| ctx.invalid("missing input 'ends'"))?;
        (starts, ends, ctx.opt_const_ints(3, "axes")?, ctx.opt_const_ints(4, "steps")?)
    };
    let n = starts.len();
    let axes = axes.unwrap_or_else(|| (0..n as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; n]);
    if ends.len() != n || axes.len() != n || steps.len() != n {
        return Err(ctx.invalid(format!(
            "starts {starts:?}, ends {ends:?}, axes {axes:?} and steps {steps:?} differ in length"
        )));
    }
    let norm_axes: Vec<usize> = axes.iter().map(|&a| common::norm_axis(ctx, a, rank)).collect::<Result<_>>()?;
    let mut seen = vec![false; rank];
    let mut slice = Slice { axes: vec![], starts: vec![], ends: vec![], steps: vec![] };
    for i in 0..n {
        let a = norm_axes[i];
        if std::mem::replace(&mut seen[a], true) {
            return Err(ctx.invalid(format!("axes {axes:?} repeat axis {a}")));
        }
        if steps[i] == 0 {
            return Err(ctx.invalid("slice step cannot be 0"));
        }
        let (s, e, st) = clamp(starts[i], ends[i], steps[i], xs[a]);
        if st == 1 && s == 0 && e == xs[a] as i64 {
            continue; // the whole axis
        }
        slice.axes.push(a);
        slice.starts.push(s);
        slice.ends.push(e);
        slice.steps.push(st);
    }
    if slice.axes.is_empty() {
        return ctx.set_output(0, x);
    }
    let y = ctx.emit1("", Op::Slice(slice), vec![x])?;
    ctx.set_output(0, y)
}
