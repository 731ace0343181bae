//! Elementwise ops and reductions: unary activations, broadcasting binary ops, Reduce*,
//! Softmax, LayerNorm.

use edgeport_ir::ops::{BinaryOp, LayerNorm, Reduce, ReduceKind};

use super::{Act, Ctx, Grid, Launch, MAX_RANK, Shader, strides};
use crate::GpuError;

/// `binary_op` code of PRelu in binary.wgsl.
pub const PRELU: u32 = 7;

pub fn binary_code(op: BinaryOp) -> u32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Pow => 4,
        BinaryOp::Min => 5,
        BinaryOp::Max => 6,
    }
}

/// A standalone activation: the op is the epilogue of a copy.
pub fn unary(ctx: &Ctx) -> Result<Vec<Launch>, GpuError> {
    let act =
        Act::of(&ctx.node.op).ok_or_else(|| ctx.unsupported("not an elementwise activation"))?;
    let n = ctx.count(ctx.out_shape(0).iter().product())?;
    let mut epilogue = ctx.epilogue;
    epilogue.act = act;
    let mut params = super::Params::new(epilogue, n);
    params.set(5, &[ctx.input(0)?, ctx.output(0)]);
    Ok(vec![Launch {
        shader: Shader::Unary,
        params,
        grid: Grid::Threads(n),
    }])
}

/// Strides of an operand broadcast to `out` (0 along broadcast axes), right-aligned.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < lead || shape[i - lead] == 1 {
                0
            } else {
                own[i - lead]
            }
        })
        .collect()
}

pub fn binary(ctx: &Ctx, op: u32) -> Result<Vec<Launch>, GpuError> {
    let out = ctx.out_shape(0);
    if out.len() > MAX_RANK {
        return Err(ctx.unsupported(format!("rank {} exceeds {MAX_RANK}", out.len())));
    }
    let n = ctx.count(out.iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(
            5,
            &[
                ctx.input(0)?,
                ctx.input(1)?,
                ctx.output(0),
                op,
                out.len() as u32,
            ],
        )
        .set(10, &ctx.dims(out)?)
        .set(18, &ctx.dims(&broadcast_strides(ctx.shape(0), out))?)
        .set(26, &ctx.dims(&broadcast_strides(ctx.shape(1), out))?);
    Ok(vec![Launch {
        shader: Shader::Binary,
        params,
        grid: Grid::Threads(n),
    }])
}

pub fn reduce(ctx: &Ctx, r: &Reduce) -> Result<Vec<Launch>, GpuError> {
    let x = ctx.shape(0);
    if x.len() > MAX_RANK {
        return Err(ctx.unsupported(format!("rank {} exceeds {MAX_RANK}", x.len())));
    }
    let kept: Vec<usize> = x
        .iter()
        .enumerate()
        .map(|(i, &d)| if r.axes.contains(&i) { 1 } else { d })
        .collect();
    let reduced: Vec<usize> = x
        .iter()
        .enumerate()
        .map(|(i, &d)| if r.axes.contains(&i) { d } else { 1 })
        .collect();
    let n = ctx.count(kept.iter().product())?;
    let kind = match r.kind {
        ReduceKind::Mean => 0,
        ReduceKind::Sum => 1,
        ReduceKind::Max => 2,
        ReduceKind::Min => 3,
        ReduceKind::Prod => 4,
    };
    let mut params = ctx.params(n);
    params
        .set(
            5,
            &[
                ctx.input(0)?,
                ctx.output(0),
                kind,
                x.len() as u32,
                ctx.count(reduced.iter().product())?,
            ],
        )
        .set(10, &ctx.dims(&kept)?)
        .set(18, &ctx.dims(&reduced)?)
        .set(26, &ctx.dims(&strides(x))?);
    Ok(vec![Launch {
        shader: Shader::Reduce,
        params,
        grid: Grid::Threads(n),
    }])
}

pub fn softmax(ctx: &Ctx, axis: usize) -> Result<Vec<Launch>, GpuError> {
    let x = ctx.shape(0);
    let dim = x[axis];
    let inner: usize = x[axis + 1..].iter().product();
    let lines = ctx.count(x.iter().product::<usize>() / dim.max(1))?;
    let mut params = ctx.params(lines);
    params.set(
        5,
        &[
            ctx.input(0)?,
            ctx.output(0),
            ctx.count(dim)?,
            ctx.count(inner)?,
        ],
    );
    Ok(vec![Launch {
        shader: Shader::Softmax,
        params,
        grid: Grid::Threads(lines),
    }])
}

pub fn layer_norm(ctx: &Ctx, l: &LayerNorm) -> Result<Vec<Launch>, GpuError> {
    let x = ctx.shape(0);
    let cols: usize = x[l.axis..].iter().product();
    let rows = ctx.count(x[..l.axis].iter().product())?;
    let mut params = ctx.params(rows);
    params
        .set(
            5,
            &[
                ctx.input(0)?,
                ctx.output(0),
                ctx.count(cols)?,
                ctx.input(1)?,
                ctx.optional_input(2),
            ],
        )
        .set(10, &[l.epsilon.to_bits()]);
    Ok(vec![Launch {
        shader: Shader::LayerNorm,
        params,
        grid: Grid::Rows(rows),
    }])
}
