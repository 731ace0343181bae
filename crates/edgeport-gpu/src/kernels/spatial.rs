//! Pooling and resize over NCHW planes.

use edgeport_ir::ops::{Pool, PoolKind, Resize, ResizeMode};

use super::{Ctx, Grid, Launch, Shader, Tables};
use crate::GpuError;

pub fn pool(ctx: &Ctx, p: &Pool) -> Result<Vec<Launch>, GpuError> {
    let (x, out) = (ctx.shape(0), ctx.out_shape(0));
    let n = ctx.count(out.iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(5, &[ctx.input(0)?, ctx.output(0)])
        .set(
            7,
            &ctx.dims(&[
                x[2],
                x[3],
                out[2],
                out[3],
                p.kernel[0],
                p.kernel[1],
                p.strides[0],
                p.strides[1],
            ])?,
        )
        .set(15, &ctx.dims(&p.pads)?)
        .set(
            19,
            &[
                u32::from(p.kind == PoolKind::Avg),
                u32::from(p.count_include_pad),
            ],
        );
    Ok(vec![Launch {
        shader: Shader::Pool,
        params,
        grid: Grid::Threads(n),
    }])
}

pub fn resize(ctx: &Ctx, r: &Resize, tables: &mut Tables) -> Result<Vec<Launch>, GpuError> {
    let (x, out) = (ctx.shape(0), ctx.out_shape(0));
    let flat = |taps: Vec<(usize, usize, f32)>| -> Vec<f32> {
        taps.into_iter()
            .flat_map(|(i0, i1, f)| [i0 as f32, i1 as f32, f])
            .collect()
    };
    let ys = tables.push(&flat(r.taps(x[2], out[2])))?;
    let xs = tables.push(&flat(r.taps(x[3], out[3])))?;
    let n = ctx.count(out.iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(5, &[ctx.input(0)?, ctx.output(0)])
        .set(7, &ctx.dims(&[x[2], x[3], out[2], out[3]])?)
        .set(
            11,
            &[ys, xs, u32::from(matches!(r.mode, ResizeMode::Nearest(_)))],
        );
    Ok(vec![Launch {
        shader: Shader::Resize,
        params,
        grid: Grid::Threads(n),
    }])
}
