//! Convolution (NCHW): depthwise directly, everything else as im2col + gemm per group (1x1
//! stride-1 convolutions skip im2col). ConvTranspose is gemm + col2im.

use edgeport_ir::ops::{Conv, ConvTranspose};

use super::{Compiled, Kernel, StepIo};
use crate::CpuError;

/// Geometry shared by both directions.
#[derive(Debug, Clone)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    /// top, left
    pad: [usize; 2],
    group: usize,
    has_bias: bool,
}

pub struct ConvKernel {
    g: Geometry,
    depthwise: bool,
    pointwise: bool,
}

impl ConvKernel {
    pub fn compile(conv: &Conv, x: &[usize], w: &[usize], out: &[usize], has_bias: bool) -> Result<Compiled, CpuError> {
        let g = Geometry {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: w[0],
            oh: out[2],
            ow: out[3],
            kh: w[2],
            kw: w[3],
            stride: conv.strides,
            dilation: conv.dilations,
            pad: [conv.pads[0], conv.pads[1]],
            group: conv.group,
            has_bias,
        };
        let depthwise = g.group == g.c && w[1] == 1 && g.group > 1;
        let pointwise = g.kh == 1 && g.kw == 1 && g.stride == [1, 1] && conv.pads == [0; 4];
        let cg = g.c / g.group;
        let scratch = if depthwise || pointwise { 0 } else { cg * g.kh * g.kw * g.oh * g.ow };
        Ok(Compiled { kernel: Kernel::Conv(ConvKernel { g, depthwise, pointwise }), scratch, extra_consts: Vec::new() })
    }

    pub fn run(&self, io: &StepIo) {
        let g = &self.g;
        let (x, w, out) = (io.input(0), io.input(1), io.output(0));
        let plane = g.oh * g.ow;
        match io.has_input(2) {
            true => {
                let bias = io.input(2);
                for (i, row) in out.chunks_exact_mut(plane).enumerate() {
                    row.fill(bias[i % g.o]);
                }
            }
            false => out.fill(0.0),
        }
        if self.depthwise {
            return self.depthwise(x, w, out);
        }
        let (cg, og) = (g.c / g.group, g.o / g.group);
        let k = cg * g.kh * g.kw;
        let scratch = io.scratch();
        for n in 0..g.n {
            for grp in 0..g.group {
                let xin = &x[(n * g.c + grp * cg) * g.h * g.w..][..cg * g.h * g.w];
                let col: &[f32] = if self.pointwise {
                    xin
                } else {
                    im2col(g, xin, cg, scratch);
                    scratch
                };
                let dst = &mut out[(n * g.o + grp * og) * plane..][..og * plane];
                let lhs = &w[grp * og * k..][..og * k];
                gemm_rowmajor(og, plane, k, dst, lhs, k, 1, col, plane, 1, io.parallelism);
            }
        }
    }

    /// One output channel per input channel (times a multiplier); accumulates row by row so
    /// the inner loop is a contiguous, vectorizable multiply-add for stride 1.
    fn depthwise(&self, x: &[f32], w: &[f32], out: &mut [f32]) {
        let g = &self.g;
        let mult = g.o / g.c;
        let (sh, sw) = (g.stride[0], g.stride[1]);
        let (dh, dw) = (g.dilation[0], g.dilation[1]);
        for n in 0..g.n {
            for oc in 0..g.o {
                let ic = oc / mult;
                let src = &x[(n * g.c + ic) * g.h * g.w..][..g.h * g.w];
                let dst = &mut out[(n * g.o + oc) * g.oh * g.ow..][..g.oh * g.ow];
                let kernel = &w[oc * g.kh * g.kw..][..g.kh * g.kw];
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let wv = kernel[ky * g.kw + kx];
                        let (ox0, ox1) = valid_range(g.ow, g.w, sw, g.pad[1], kx * dw);
                        if ox0 >= ox1 {
                            continue;
                        }
                        for oy in 0..g.oh {
                            let iy = (oy * sh + ky * dh) as isize - g.pad[0] as isize;
                            if iy < 0 || iy >= g.h as isize {
                                continue;
                            }
                            let srow = &src[iy as usize * g.w..][..g.w];
                            let drow = &mut dst[oy * g.ow..][..g.ow];
                            let ix0 = ox0 * sw + kx * dw - g.pad[1];
                            if sw == 1 {
                                let len = ox1 - ox0;
                                for (d, &s) in drow[ox0..ox1].iter_mut().zip(&srow[ix0..ix0 + len]) {
                                    *d += wv * s;
                                }
                            } else {
                                for (j, d) in drow[ox0..ox1].iter_mut().enumerate() {
                                    *d += wv * srow[ix0 + j * sw];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Output positions `[lo, hi)` along one axis whose input index `o * stride + offset - pad`
/// falls inside `0..input`.
fn valid_range(out: usize, input: usize, stride: usize, pad: usize, offset: usize) -> (usize, usize) {
    // smallest o with o*stride + offset >= pad
    let lo = if offset >= pad { 0 } else { (pad - offset).div_ceil(stride) };
    // largest o with o*stride + offset - pad < input
    let limit = input + pad; // o*stride + offset < limit
    let hi = if offset >= limit { 0 } else { (limit - offset).div_ceil(stride) };
    (lo.min(out), hi.min(out).max(lo.min(out)))
}

/// Unfolds one group's input [cg, h, w] into columns [cg*kh*kw, oh*ow].
fn im2col(g: &Geometry, x: &[f32], cg: usize, col: &mut [f32]) {
    let plane = g.oh * g.ow;
    let (sh, sw) = (g.stride[0], g.stride[1]);
    for c in 0..cg {
        let src = &x[c * g.h * g.w..][..g.h * g.w];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &mut col[((c * g.kh + ky) * g.kw + kx) * plane..][..plane];
                let (ox0, ox1) = valid_range(g.ow, g.w, sw, g.pad[1], kx * g.dilation[1]);
                for oy in 0..g.oh {
                    let dst = &mut row[oy * g.ow..][..g.ow];
                    let iy = (oy * sh + ky * g.dilation[0]) as isize - g.pad[0] as isize;
                    if iy < 0 || iy >= g.h as isize || ox0 >= ox1 {
                        dst.fill(0.0);
                        continue;
                    }
                    let srow = &src[iy as usize * g.w..][..g.w];
                    dst[..ox0].fill(0.0);
                    dst[ox1..].fill(0.0);
                    let ix0 = ox0 * sw + kx * g.dilation[1] - g.pad[1];
                    if sw == 1 {
                        dst[ox0..ox1].copy_from_slice(&srow[ix0..ix0 + (ox1 - ox0)]);
                    } else {
                        for (j, d) in dst[ox0..ox1].iter_mut().enumerate() {
                            *d = srow[ix0 + j * sw];
                        }
                    }
                }
            }
        }
    }
}

/// dst[m, n] += lhs[m, k] * rhs[k, n] with row-major dst (row stride n) and the given operand
/// strides.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_rowmajor(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    debug_assert!(dst.len() >= m * n);
    debug_assert!(k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    debug_assert!(k == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs);
    // SAFETY: the slices cover every element gemm addresses with these strides (checked by
    // the kernels' shape arithmetic at compile time, asserted in debug builds).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

pub struct ConvTransposeKernel {
    g: Geometry,
}

impl ConvTransposeKernel {
    pub fn compile(
        conv: &ConvTranspose,
        x: &[usize],
        w: &[usize],
        out: &[usize],
        has_bias: bool,
    ) -> Result<Compiled, CpuError> {
        let g = Geometry {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: out[1],
            oh: out[2],
            ow: out[3],
            kh: w[2],
            kw: w[3],
            stride: conv.strides,
            dilation: conv.dilations,
            pad: [conv.pads[0], conv.pads[1]],
            group: conv.group,
            has_bias,
        };
        let og = g.o / g.group;
        let scratch = og * g.kh * g.kw * g.h * g.w;
        Ok(Compiled { kernel: Kernel::ConvTranspose(ConvTransposeKernel { g }), scratch, extra_consts: Vec::new() })
    }

    /// Per group: col[og*kh*kw, h*w] = W_g^T x X_g, then every column entry is added to the
    /// output pixel it lands on.
    pub fn run(&self, io: &StepIo) {
        let g = &self.g;
        let (x, w, out) = (io.input(0), io.input(1), io.output(0));
        let plane = g.oh * g.ow;
        match io.has_input(2) {
            true => {
                let bias = io.input(2);
                for (i, row) in out.chunks_exact_mut(plane).enumerate() {
                    row.fill(bias[i % g.o]);
                }
            }
            false => out.fill(0.0),
        }
        let (cg, og) = (g.c / g.group, g.o / g.group);
        let kk = og * g.kh * g.kw;
        let hw = g.h * g.w;
        let col = io.scratch();
        for n in 0..g.n {
            for grp in 0..g.group {
                col.fill(0.0);
                let xin = &x[(n * g.c + grp * cg) * hw..][..cg * hw];
                // weight [c, og, kh, kw]: the group's slice is [cg, kk]; use it transposed.
                let wg = &w[grp * cg * kk..][..cg * kk];
                gemm_rowmajor(kk, hw, cg, col, wg, 1, kk, xin, hw, 1, io.parallelism);
                let dst = &mut out[(n * g.o + grp * og) * plane..][..og * plane];
                for oc in 0..og {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let crow = &col[((oc * g.kh + ky) * g.kw + kx) * hw..][..hw];
                            for iy in 0..g.h {
                                let oy = (iy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad[0] as isize;
                                if oy < 0 || oy >= g.oh as isize {
                                    continue;
                                }
                                let drow = &mut dst[oc * plane + oy as usize * g.ow..][..g.ow];
                                for ix in 0..g.w {
                                    let ox = (ix * g.stride[1] + kx * g.dilation[1]) as isize - g.pad[1] as isize;
                                    if ox >= 0 && ox < g.ow as isize {
                                        drow[ox as usize] += crow[iy * g.w + ix];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let _ = g.has_bias;
    }
}
