//! Matrix products: MatMul and Conv on the tiled gemm kernel (convolution as an implicit
//! gemm), depthwise convolution and ConvTranspose as direct kernels.

use edgeport_ir::ops::{Conv, ConvTranspose};

use super::{Ctx, Grid, Launch, MAX_GROUPS, Shader, strides};
use crate::GpuError;

/// Output tile of the gemm kernel (gemm_core.wgsl).
const TILE: usize = 32;

fn gemm_grid(ctx: &Ctx, m: usize, n: usize, batches: usize) -> Result<Grid, GpuError> {
    let grid = [n.div_ceil(TILE), m.div_ceil(TILE), batches];
    if grid.iter().any(|&g| g > MAX_GROUPS as usize) {
        return Err(ctx.unsupported(format!(
            "a {m}x{n} product over {batches} batches exceeds the GPU's launch grid"
        )));
    }
    Ok(Grid::Groups(grid.map(|g| g.max(1) as u32)))
}

pub fn matmul(ctx: &Ctx) -> Result<Vec<Launch>, GpuError> {
    let (a, b, out) = (ctx.shape(0), ctx.shape(1), ctx.out_shape(0));
    if a.len() < 2 || b.len() < 2 {
        return Err(ctx.unsupported(
            "rank-1 operands reach the GPU runtime only after the importer lifts them to rank 2",
        ));
    }
    let (m, k, n) = (a[a.len() - 2], a[a.len() - 1], b[b.len() - 1]);
    let batch = &out[..out.len() - 2];
    if batch.len() > 4 {
        return Err(ctx.unsupported(format!("{} batch axes exceed 4", batch.len())));
    }
    // Batch strides of each operand over the output's batch axes (0 where broadcast).
    let batch_strides = |shape: &[usize]| -> Vec<usize> {
        let own = strides(shape);
        let lead = batch.len() + 2 - shape.len();
        (0..batch.len())
            .map(|i| {
                if i < lead || shape[i - lead] == 1 {
                    0
                } else {
                    own[i - lead]
                }
            })
            .collect::<Vec<_>>()
    };
    let pad4 = |v: Vec<usize>, fill: usize| {
        let mut p = vec![fill; 4 - v.len()];
        p.extend(v);
        p
    };
    let batches: usize = batch.iter().product();
    let mut params = ctx.params(0);
    params
        .set(5, &ctx.dims(&[m, n, k])?)
        .set(8, &[ctx.input(0)?, ctx.input(1)?, ctx.output(0)])
        .set(12, &ctx.dims(&pad4(batch.to_vec(), 1))?)
        .set(16, &ctx.dims(&pad4(batch_strides(a), 0))?)
        .set(20, &ctx.dims(&pad4(batch_strides(b), 0))?);
    Ok(vec![Launch {
        shader: Shader::MatMul,
        params,
        grid: gemm_grid(ctx, m, n, batches)?,
    }])
}

pub fn conv(ctx: &Ctx, c: &Conv) -> Result<Vec<Launch>, GpuError> {
    let (x, w, out) = (ctx.shape(0), ctx.shape(1), ctx.out_shape(0));
    let (nb, ch, h, wd) = (x[0], x[1], x[2], x[3]);
    let (o, oh, ow) = (out[1], out[2], out[3]);
    let (kh, kw) = (w[2], w[3]);
    let group = c.group.max(1);
    let geometry = [
        c.strides[0],
        c.strides[1],
        c.pads[0],
        c.pads[1],
        c.dilations[0],
        c.dilations[1],
    ];
    if group == ch && w[1] == 1 && group > 1 {
        let n = ctx.count(out.iter().product())?;
        let mut params = ctx.params(n);
        params
            .set(
                5,
                &[
                    ctx.input(0)?,
                    ctx.input(1)?,
                    ctx.output(0),
                    ctx.optional_input(2),
                ],
            )
            .set(9, &ctx.dims(&[ch, h, wd, oh, ow, kh, kw])?)
            .set(16, &ctx.dims(&geometry)?)
            .set(22, &ctx.dims(&[o / ch, o])?);
        return Ok(vec![Launch {
            shader: Shader::Depthwise,
            params,
            grid: Grid::Threads(n),
        }]);
    }
    let (og, cg) = (o / group, ch / group);
    let k = cg * kh * kw;
    let mut params = ctx.params(0);
    params
        .set(5, &ctx.dims(&[og, oh * ow, k])?)
        .set(
            8,
            &[
                ctx.input(0)?,
                ctx.input(1)?,
                ctx.output(0),
                ctx.optional_input(2),
            ],
        )
        .set(12, &ctx.dims(&[cg, h, wd, ow, kh, kw])?)
        .set(18, &ctx.dims(&geometry)?)
        .set(24, &ctx.dims(&[group, ch, o])?);
    Ok(vec![Launch {
        shader: Shader::Conv,
        params,
        grid: gemm_grid(ctx, og, oh * ow, nb * group)?,
    }])
}

pub fn conv_transpose(ctx: &Ctx, c: &ConvTranspose) -> Result<Vec<Launch>, GpuError> {
    let (x, w, out) = (ctx.shape(0), ctx.shape(1), ctx.out_shape(0));
    let n = ctx.count(out.iter().product())?;
    let mut params = ctx.params(n);
    params
        .set(
            5,
            &[
                ctx.input(0)?,
                ctx.input(1)?,
                ctx.output(0),
                ctx.optional_input(2),
            ],
        )
        .set(
            9,
            &ctx.dims(&[x[1], x[2], x[3], out[1], out[2], out[3], w[2], w[3]])?,
        )
        .set(
            17,
            &ctx.dims(&[
                c.strides[0],
                c.strides[1],
                c.pads[0],
                c.pads[1],
                c.dilations[0],
                c.dilations[1],
                c.group.max(1),
            ])?,
        );
    Ok(vec![Launch {
        shader: Shader::ConvTranspose,
        params,
        grid: Grid::Threads(n),
    }])
}
