//! Convolution (NCHW). The input is padded and split into its stride phases once, after which
//! every tap reads contiguous memory: depthwise convolutions multiply-add whole planes per tap,
//! the others unfold (im2col, a row copy per tap) into gemm, block by block (1x1 stride-1
//! convolutions use the input directly). ConvTranspose is gemm + col2im.

use edgeport_ir::ops::{Conv, ConvTranspose};

use super::{Compiled, Kernel, StepIo};
use crate::CpuError;

/// The nine-tap loop, instantiated once per instruction set (`madd(a, b, c)` = a * b + c); each
/// output starts from `init` (the bias).
macro_rules! dw9_body {
    ($wide:expr, $t:expr, $k:expr, $init:expr, $madd:expr) => {{
        let (wide, t, k) = ($wide, $t, $k);
        let madd = $madd;
        let n = wide.len().min(t.iter().map(|s| s.len()).min().unwrap_or(0));
        let (t0, t1, t2, t3, t4, t5, t6, t7, t8) =
            (&t[0][..n], &t[1][..n], &t[2][..n], &t[3][..n], &t[4][..n], &t[5][..n], &t[6][..n], &t[7][..n], &t[8][..n]);
        let wide = &mut wide[..n];
        for i in 0..n {
            let mut acc = $init;
            acc = madd(k[0], t0[i], acc);
            acc = madd(k[1], t1[i], acc);
            acc = madd(k[2], t2[i], acc);
            acc = madd(k[3], t3[i], acc);
            acc = madd(k[4], t4[i], acc);
            acc = madd(k[5], t5[i], acc);
            acc = madd(k[6], t6[i], acc);
            acc = madd(k[7], t7[i], acc);
            acc = madd(k[8], t8[i], acc);
            wide[i] = acc;
        }
    }};
}

/// Geometry shared by both directions.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) o: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) stride: [usize; 2],
    pub(crate) dilation: [usize; 2],
    /// top, left
    pub(crate) pad: [usize; 2],
    /// bottom, right
    pub(crate) pad_end: [usize; 2],
    pub(crate) group: usize,
}

impl Geometry {
    /// Input `x` [n, c, h, w], weight `w` [.., .., kh, kw], output `out` [n, o, oh, ow].
    fn of_conv(
        x: &[usize],
        w: &[usize],
        out: &[usize],
        stride: [usize; 2],
        dilation: [usize; 2],
        pads: [usize; 4],
        group: usize,
    ) -> Geometry {
        Geometry {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: out[1],
            oh: out[2],
            ow: out[3],
            kh: w[2],
            kw: w[3],
            stride,
            dilation,
            pad: [pads[0], pads[1]],
            pad_end: [pads[2], pads[3]],
            group,
        }
    }

    /// A pooling window over one [h, w] plane (one channel, no dilation).
    pub(crate) fn window(hw: [usize; 2], out: [usize; 2], kernel: [usize; 2], stride: [usize; 2], pads: [usize; 4]) -> Geometry {
        Geometry {
            n: 1,
            c: 1,
            h: hw[0],
            w: hw[1],
            o: 1,
            oh: out[0],
            ow: out[1],
            kh: kernel[0],
            kw: kernel[1],
            stride,
            dilation: [1, 1],
            pad: [pads[0], pads[1]],
            pad_end: [pads[2], pads[3]],
            group: 1,
        }
    }
}

pub struct ConvKernel {
    g: Geometry,
    depthwise: bool,
    pointwise: bool,
    /// The padded, phase-split input layout (depthwise and im2col paths).
    phases: Phases,
}

impl ConvKernel {
    pub fn compile(conv: &Conv, x: &[usize], w: &[usize], out: &[usize]) -> Result<Compiled, CpuError> {
        let g = Geometry::of_conv(x, w, out, conv.strides, conv.dilations, conv.pads, conv.group);
        let depthwise = g.group == g.c && w[1] == 1 && g.group > 1;
        let pointwise = g.kh == 1 && g.kw == 1 && g.stride == [1, 1] && conv.pads == [0; 4];
        let phases = Phases::new(&g);
        let kernel = ConvKernel { g, depthwise, pointwise, phases };
        let (g, cg) = (&kernel.g, kernel.g.c / kernel.g.group);
        let scratch = if depthwise {
            // one channel's phase planes and the wide output plane
            kernel.phases.scratch_len(g.oh)
        } else if pointwise {
            0
        } else {
            // every channel's phase planes and one block of im2col columns
            cg * kernel.phases.phases_len() + cg * g.kh * g.kw * kernel.block_rows() * g.ow
        };
        Ok(Compiled { kernel: Kernel::Conv(kernel), scratch, extra_consts: Vec::new() })
    }

    /// Writes bias, products and the folded activation block by block (a few output rows of
    /// every channel at a time), so each output block is still in cache for the next pass.
    pub fn run(&self, io: &StepIo) {
        let g = &self.g;
        let (x, w, out) = (io.input(0), io.input(1), io.output(0));
        let bias = if io.has_input(2) { Some(io.input(2)) } else { None };
        if self.depthwise {
            return self.depthwise(x, w, bias, out, io.scratch(), io.epilogue);
        }
        let plane = g.oh * g.ow;
        let (cg, og) = (g.c / g.group, g.o / g.group);
        let k = cg * g.kh * g.kw;
        let scratch = io.scratch();
        let rows = self.block_rows();
        for n in 0..g.n {
            for grp in 0..g.group {
                let xin = &x[(n * g.c + grp * cg) * g.h * g.w..][..cg * g.h * g.w];
                let dst = &mut out[(n * g.o + grp * og) * plane..][..og * plane];
                let lhs = &w[grp * og * k..][..og * k];
                let (planes, col) = scratch.split_at_mut(if self.pointwise { 0 } else { cg * self.phases.phases_len() });
                if !self.pointwise {
                    for (c, ph) in planes.chunks_exact_mut(self.phases.phases_len()).enumerate() {
                        self.phases.fill(g, &xin[c * g.h * g.w..][..g.h * g.w], ph);
                    }
                }
                for oy0 in (0..g.oh).step_by(rows) {
                    let oy1 = (oy0 + rows).min(g.oh);
                    let (c0, cols) = (oy0 * g.ow, (oy1 - oy0) * g.ow);
                    let (rhs, rhs_rs): (&[f32], usize) = if self.pointwise {
                        (&xin[c0..], plane)
                    } else {
                        im2col(g, &self.phases, planes, cg, oy0, oy1, &mut col[..k * cols]);
                        (&col[..k * cols], cols)
                    };
                    gemm_strided(og, cols, k, &mut dst[c0..], plane, false, lhs, k, 1, rhs, rhs_rs, 1, io.parallelism);
                    // bias and activation while the block is in cache
                    for (i, row) in dst.chunks_exact_mut(plane).enumerate() {
                        let seg = &mut row[c0..c0 + cols];
                        if let Some(b) = bias {
                            let b = b[grp * og + i];
                            seg.iter_mut().for_each(|v| *v += b);
                        }
                        if let Some(act) = io.epilogue {
                            act.apply(seg);
                        }
                    }
                }
            }
        }
    }

    /// Output rows per block: about 64K floats of output and columns together.
    fn block_rows(&self) -> usize {
        let g = &self.g;
        let per_row = g.ow * (g.o / g.group + (g.c / g.group) * g.kh * g.kw);
        (65536 / per_row.max(1)).clamp(1, g.oh.max(1))
    }

    /// One output channel per input channel (times a multiplier). The input plane is padded
    /// and split into its stride phases once per channel (scratch); then every tap is one
    /// contiguous multiply-add over the whole output plane computed in "wide" rows of the phase
    /// width (the extra columns are discarded), so there is no per-row loop overhead even on
    /// 7x7 planes. 3x3 kernels do all nine taps in one pass.
    fn depthwise(
        &self,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        out: &mut [f32],
        scratch: &mut [f32],
        epilogue: Option<super::Activation>,
    ) {
        let (g, p) = (&self.g, &self.phases);
        let mult = g.o / g.c;
        let len = g.oh * p.wq;
        let (phases, wide) = scratch.split_at_mut(p.phases_len());
        let wide = &mut wide[..len];
        // per tap: where it reads in the phase planes
        let taps: Vec<usize> = (0..g.kh * g.kw).map(|t| p.tap_offset(g, t / g.kw, t % g.kw)).collect();
        for n in 0..g.n {
            for ic in 0..g.c {
                p.fill(g, &x[(n * g.c + ic) * g.h * g.w..][..g.h * g.w], phases);
                for m in 0..mult {
                    let oc = ic * mult + m;
                    let dst = &mut out[(n * g.o + oc) * g.oh * g.ow..][..g.oh * g.ow];
                    let kernel = &w[oc * g.kh * g.kw..][..g.kh * g.kw];
                    let b = bias.map_or(0.0, |b| b[oc]);
                    if taps.len() == 9 {
                        let t: [&[f32]; 9] = std::array::from_fn(|i| &phases[taps[i]..taps[i] + len]);
                        dw9(wide, &t, kernel, b);
                    } else {
                        wide.fill(b);
                        for (&at, &k) in taps.iter().zip(kernel) {
                            for (d, &v) in wide.iter_mut().zip(&phases[at..at + len]) {
                                *d += k * v;
                            }
                        }
                    }
                    // copy out the valid columns, activating each row while it is in L1
                    for (drow, wrow) in dst.chunks_exact_mut(g.ow).zip(wide.chunks_exact(p.wq)) {
                        drow.copy_from_slice(&wrow[..g.ow]);
                        if let Some(act) = epilogue {
                            act.apply(drow);
                        }
                    }
                }
            }
        }
    }
}

/// Layout of an input plane padded and split into stride phases: `s[0] * s[1]`
/// planes of `(hq + 1) x wq` (one spare zero row so wide rows may read past the last one).
pub(crate) struct Phases {
    s: [usize; 2],
    hq: usize,
    pub(crate) wq: usize,
}

impl Phases {
    pub(crate) fn new(g: &Geometry) -> Phases {
        let s = g.stride;
        let hp = g.h + g.pad[0] + g.pad_end[0];
        let wp = g.w + g.pad[1] + g.pad_end[1];
        Phases { s, hq: hp.div_ceil(s[0]), wq: wp.div_ceil(s[1]) }
    }
    fn plane_len(&self) -> usize {
        (self.hq + 1) * self.wq
    }
    pub(crate) fn phases_len(&self) -> usize {
        self.s[0] * self.s[1] * self.plane_len()
    }
    /// Stride 1: one plane; only the padding is written besides the copied rows.
    fn fill_unstrided(&self, g: &Geometry, src: &[f32], plane: &mut [f32], pad: f32) {
        let (top, left, wq) = (g.pad[0], g.pad[1], self.wq);
        let plane = &mut plane[..self.plane_len()];
        plane[..top * wq].fill(pad);
        for (row, dst) in src.chunks_exact(g.w).zip(plane[top * wq..].chunks_exact_mut(wq)) {
            dst[..left].fill(pad);
            dst[left..left + g.w].copy_from_slice(row);
            dst[left + g.w..].fill(pad);
        }
        plane[(top + g.h) * wq..].fill(pad);
    }

    /// Where tap (ky, kx) of output (0, 0) reads: output (oy, ox) reads `+ oy * wq + ox`.
    pub(crate) fn tap_offset(&self, g: &Geometry, ky: usize, kx: usize) -> usize {
        let (ry, rx) = (g.dilation[0] * ky, g.dilation[1] * kx);
        let plane = (ry % self.s[0]) * self.s[1] + rx % self.s[1];
        plane * self.plane_len() + (ry / self.s[0]) * self.wq + rx / self.s[1]
    }

    /// The phase planes of one channel plus a wide output plane of `oh` rows.
    pub(crate) fn scratch_len(&self, oh: usize) -> usize {
        self.phases_len() + oh * self.wq
    }

    /// Pads (with zeros) and splits `src` [h, w] into the phase planes.
    fn fill(&self, g: &Geometry, src: &[f32], phases: &mut [f32]) {
        self.fill_with(g, src, phases, 0.0)
    }

    /// Pads with `pad` and splits `src` [h, w] into the phase planes.
    pub(crate) fn fill_with(&self, g: &Geometry, src: &[f32], phases: &mut [f32], pad: f32) {
        if self.s == [1, 1] {
            return self.fill_unstrided(g, src, phases, pad);
        }
        phases.fill(pad);
        let plane = self.plane_len();
        for (y, row) in src.chunks_exact(g.w).enumerate() {
            let r = y + g.pad[0];
            let (pr, rr) = (r % self.s[0], r / self.s[0]);
            if self.s[1] == 1 {
                let at = pr * plane + rr * self.wq + g.pad[1];
                phases[at..at + g.w].copy_from_slice(row);
                continue;
            }
            if self.s[1] == 2 {
                // even input columns go to one phase, odd ones to the other
                let pad = g.pad[1];
                let (pe, po) = (pad % 2, (pad + 1) % 2);
                let at_e = (pr * 2 + pe) * plane + rr * self.wq + pad / 2;
                let at_o = (pr * 2 + po) * plane + rr * self.wq + pad.div_ceil(2);
                let (ne, no) = (g.w.div_ceil(2), g.w / 2);
                let (lo, hi) = phases.split_at_mut(at_e.max(at_o));
                let (e, o) = if at_e < at_o { (&mut lo[at_e..at_e + ne], &mut hi[..no]) } else { (&mut hi[..ne], &mut lo[at_o..at_o + no]) };
                for (j, pair) in row.chunks_exact(2).enumerate() {
                    e[j] = pair[0];
                    o[j] = pair[1];
                }
                if g.w % 2 == 1 {
                    e[ne - 1] = row[g.w - 1];
                }
                continue;
            }
            for pc in 0..self.s[1] {
                // input columns landing in column phase pc: x + pad_left = cc * s + pc
                let first = (pc + self.s[1] - g.pad[1] % self.s[1]) % self.s[1];
                let cc0 = (first + g.pad[1]) / self.s[1];
                let at = (pr * self.s[1] + pc) * plane + rr * self.wq + cc0;
                let dst = &mut phases[at..at + self.wq - cc0];
                for (d, &v) in dst.iter_mut().zip(row.iter().skip(first).step_by(self.s[1])) {
                    *d = v;
                }
            }
        }
    }
}

/// wide[i] = init + sum over the nine taps of k[t] * t[t][i]: one vectorizable pass (8-wide
/// with fused multiply-adds where the CPU has AVX2 and FMA).
fn dw9(wide: &mut [f32], t: &[&[f32]; 9], k: &[f32], init: f32) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has both features (checked just above).
        return unsafe { dw9_avx2(wide, t, k, init) };
    }
    dw9_body!(wide, t, k, init, |a: f32, b: f32, c: f32| a * b + c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw9_avx2(wide: &mut [f32], t: &[&[f32]; 9], k: &[f32], init: f32) {
    dw9_body!(wide, t, k, init, f32::mul_add)
}

/// Unfolds output rows `oy0..oy1` of one group into columns [cg*kh*kw, (oy1-oy0)*ow], from the
/// group's input already padded and split into stride phases (`phases`: cg planes sets): every
/// (channel, tap, output row) is one contiguous copy.
fn im2col(g: &Geometry, p: &Phases, phases: &[f32], cg: usize, oy0: usize, oy1: usize, col: &mut [f32]) {
    let cols = (oy1 - oy0) * g.ow;
    for c in 0..cg {
        let ph = &phases[c * p.phases_len()..][..p.phases_len()];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let base = p.tap_offset(g, ky, kx);
                let row = &mut col[((c * g.kh + ky) * g.kw + kx) * cols..][..cols];
                for (oy, dst) in (oy0..oy1).zip(row.chunks_exact_mut(g.ow)) {
                    let at = base + oy * p.wq;
                    dst.copy_from_slice(&ph[at..at + g.ow]);
                }
            }
        }
    }
}

/// dst[m, n] (+)= lhs[m, k] * rhs[k, n], dst row-major with row stride `dst_rs`; `accumulate`
/// adds to what dst holds, otherwise dst is overwritten.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
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
    assert!(dst.len() >= (m - 1) * dst_rs + n, "gemm destination too small");
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
            dst_rs as isize,
            accumulate,
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
    ) -> Result<Compiled, CpuError> {
        let g = Geometry::of_conv(x, w, out, conv.strides, conv.dilations, conv.pads, conv.group);
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
                gemm_strided(kk, hw, cg, col, hw, true, wg, 1, kk, xin, hw, 1, io.parallelism);
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
    }
}
