//! Data movement: reshape copies, transpose, slice, concat, split, cast (all one strided-copy
//! kernel), gather and pad.

use edgeport_ir::DType;
use edgeport_ir::ops::{Pad, PadMode, Slice};

use super::{Ctx, Grid, Launch, MAX_RANK, Shader, Tables, strides};
use crate::GpuError;

/// One strided copy walking `shape`: element at coordinates c goes from
/// `src + Σ c·src_strides` to `dst + Σ c·dst_strides`, cast on the way.
fn strided(
    ctx: &Ctx,
    (src, dst): (u32, u32),
    shape: &[usize],
    src_strides: &[i64],
    dst_strides: &[usize],
    cast: u32,
) -> Result<Launch, GpuError> {
    if shape.len() > MAX_RANK {
        return Err(ctx.unsupported(format!("rank {} exceeds {MAX_RANK}", shape.len())));
    }
    let signed = src_strides
        .iter()
        .map(|&s| {
            i32::try_from(s)
                .map_err(|_| ctx.unsupported("a stride exceeds the kernels' 32-bit indexing"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let n = ctx.count(shape.iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(5, &[src, dst, shape.len() as u32, cast])
        .set(10, &ctx.dims(shape)?)
        .set_i32(18, &signed)
        .set(26, &ctx.dims(dst_strides)?);
    Ok(Launch {
        shader: Shader::Strided,
        params,
        grid: Grid::Threads(n),
    })
}

fn signed(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&s| s as i64).collect()
}

/// A reshape whose output cannot share its input's memory.
pub fn copy(ctx: &Ctx) -> Result<Vec<Launch>, GpuError> {
    flat_copy(ctx, 0)
}

pub fn cast(ctx: &Ctx, to: DType) -> Result<Vec<Launch>, GpuError> {
    let code = match to {
        DType::F32 => 0,
        DType::F16 => 1,
        DType::Bool => 2,
        DType::I8 => 3,
        DType::U8 => 4,
        DType::I32 => 5,
        DType::I64 => 6,
    };
    flat_copy(ctx, code)
}

/// The input copied element by element into the output, cast by `cast_to` mode `code`.
fn flat_copy(ctx: &Ctx, code: u32) -> Result<Vec<Launch>, GpuError> {
    let n = ctx.out_shape(0).iter().product::<usize>();
    Ok(vec![strided(ctx, (ctx.input(0)?, ctx.output(0)), &[n], &[1], &[1], code)?])
}

pub fn transpose(ctx: &Ctx, perm: &[usize]) -> Result<Vec<Launch>, GpuError> {
    let in_strides = strides(ctx.shape(0));
    let out = ctx.out_shape(0);
    let src: Vec<i64> = perm.iter().map(|&a| in_strides[a] as i64).collect();
    Ok(vec![strided(
        ctx,
        (ctx.input(0)?, ctx.output(0)),
        out,
        &src,
        &strides(out),
        0,
    )?])
}

pub fn slice(ctx: &Ctx, s: &Slice) -> Result<Vec<Launch>, GpuError> {
    let x = ctx.shape(0);
    let mut st = signed(&strides(x));
    let mut base = 0i64;
    for (i, &axis) in s.axes.iter().enumerate() {
        let dim = x[axis] as i64;
        // negative steps start at most at the last element
        let start = if s.steps[i] < 0 {
            s.starts[i].min(dim - 1)
        } else {
            s.starts[i]
        };
        base += start * st[axis];
        st[axis] *= s.steps[i];
    }
    let src = i64::from(ctx.input(0)?) + base;
    let src = u32::try_from(src).map_err(|_| ctx.unsupported("slice start outside the input"))?;
    let out = ctx.out_shape(0);
    Ok(vec![strided(
        ctx,
        (src, ctx.output(0)),
        out,
        &st,
        &strides(out),
        0,
    )?])
}

/// Each input copied into its block of the output.
pub fn concat(ctx: &Ctx, axis: usize) -> Result<Vec<Launch>, GpuError> {
    let out = ctx.out_shape(0);
    let out_strides = strides(out);
    let mut offset = 0usize;
    let mut launches = Vec::new();
    for i in 0..ctx.node.inputs.len() {
        let shape = ctx.shape(i);
        if shape.iter().product::<usize>() > 0 {
            let dst = ctx.count(ctx.output(0) as usize + offset * out_strides[axis])?;
            launches.push(strided(
                ctx,
                (ctx.input(i)?, dst),
                shape,
                &signed(&strides(shape)),
                &out_strides,
                0,
            )?);
        }
        offset += shape[axis];
    }
    Ok(launches)
}

/// Each output copied from its block of the input.
pub fn split(ctx: &Ctx, axis: usize) -> Result<Vec<Launch>, GpuError> {
    let in_strides = signed(&strides(ctx.shape(0)));
    let mut offset = 0usize;
    let mut launches = Vec::new();
    for o in 0..ctx.node.outputs.len() {
        let shape = ctx.out_shape(o);
        if shape.iter().product::<usize>() > 0 {
            let src = ctx.count(ctx.input(0)? as usize + offset * in_strides[axis] as usize)?;
            launches.push(strided(
                ctx,
                (src, ctx.output(o)),
                shape,
                &in_strides,
                &strides(shape),
                0,
            )?);
        }
        offset += shape[axis];
    }
    Ok(launches)
}

pub fn gather(ctx: &Ctx, axis: usize) -> Result<Vec<Launch>, GpuError> {
    let x = ctx.shape(0);
    let dim = x[axis];
    // Constant indices are checked now; the kernel gives NaN for out-of-range runtime ones.
    if let Some(indices) = ctx.graph.constant(ctx.node.inputs[1]) {
        for v in indices.to_f32_vec() {
            let i = v as i64;
            if v.fract() != 0.0 || i < -(dim as i64) || i >= dim as i64 {
                return Err(
                    ctx.unsupported(format!("index {v} out of range for a dimension of {dim}"))
                );
            }
        }
    }
    let count = ctx.graph.ty(ctx.node.inputs[1]).elements();
    let inner: usize = x[axis + 1..].iter().product();
    let n = ctx.count(ctx.out_shape(0).iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(5, &[ctx.input(0)?, ctx.input(1)?, ctx.output(0)])
        .set(8, &ctx.dims(&[dim, inner, count])?);
    Ok(vec![Launch {
        shader: Shader::Gather,
        params,
        grid: Grid::Threads(n),
    }])
}

pub fn pad(ctx: &Ctx, p: &Pad, tables: &mut Tables) -> Result<Vec<Launch>, GpuError> {
    let (x, out) = (ctx.shape(0), ctx.out_shape(0));
    if out.len() > MAX_RANK {
        return Err(ctx.unsupported(format!("rank {} exceeds {MAX_RANK}", out.len())));
    }
    let maps = (0..out.len())
        .map(|axis| {
            let map: Vec<f32> = (0..out[axis])
                .map(|i| p.source_index(axis, x[axis], i).map_or(-1.0, |s| s as f32))
                .collect();
            tables.push(&map)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let value = match p.mode {
        PadMode::Constant(v) => v,
        PadMode::Reflect | PadMode::Edge => 0.0,
    };
    let n = ctx.count(out.iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(
            5,
            &[
                ctx.input(0)?,
                ctx.output(0),
                out.len() as u32,
                value.to_bits(),
            ],
        )
        .set(10, &ctx.dims(out)?)
        .set(18, &ctx.dims(&strides(x))?)
        .set(26, &maps);
    Ok(vec![Launch {
        shader: Shader::Pad,
        params,
        grid: Grid::Threads(n),
    }])
}
