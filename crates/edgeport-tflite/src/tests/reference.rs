//! A naive reference interpreter over the IR for the numeric tests: `edgeport_ir::eval::eval`
//! for the simple ops, and straightforward loops (written from the ONNX definitions, NHWC where
//! the op carries `Layout::Nhwc`) for the heavy ones.

use edgeport_ir::eval::{broadcast_to, strides};
use edgeport_ir::ops::{
    Conv, ConvTranspose, CoordMode, LayerNorm, NearestMode, PadMode, Pool, PoolKind, Resize,
    ResizeMode, broadcast_shapes, matmul_shape,
};
use edgeport_ir::{Graph, Op, Tensor, eval};

fn f32t(shape: Vec<usize>, v: Vec<f32>) -> Tensor {
    Tensor::from_f32(shape, v).unwrap()
}

/// Evaluate the graph on `inputs` (in `g.inputs` order); returns `g.outputs` in order.
pub fn run(g: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    let mut vals: Vec<Option<Tensor>> = g
        .values()
        .iter()
        .map(|v| v.constant.as_deref().cloned())
        .collect();
    for (&i, t) in g.inputs.iter().zip(inputs) {
        vals[i.0 as usize] = Some(t.clone());
    }
    for node in &g.nodes {
        let ins: Vec<&Tensor> = node
            .inputs
            .iter()
            .map(|i| {
                vals[i.0 as usize]
                    .as_ref()
                    .unwrap_or_else(|| panic!("{} input not computed", node.name))
            })
            .collect();
        let out_ty = g.ty(node.outputs[0]).clone();
        let outs: Vec<Tensor> = match &node.op {
            Op::Conv(c) => vec![conv(ins[0], ins[1], ins.get(2).copied(), c, &out_ty.shape)],
            Op::ConvTranspose(c) => vec![conv_transpose(
                ins[0],
                ins[1],
                ins.get(2).copied(),
                c,
                &out_ty.shape,
            )],
            Op::Pool(p) => vec![pool(ins[0], p, &out_ty.shape)],
            Op::Resize(r) => vec![resize(ins[0], r)],
            Op::Softmax { axis } => vec![softmax(ins[0], *axis)],
            Op::LayerNorm(l) => vec![layer_norm(ins[0], ins[1], ins.get(2).copied(), l)],
            Op::PRelu => vec![prelu(ins[0], ins[1])],
            Op::MatMul => vec![matmul(ins[0], ins[1])],
            Op::Pad(p)
                if p.mode != PadMode::Constant(0.0) && !matches!(p.mode, PadMode::Constant(_)) =>
            {
                vec![pad_index(ins[0], &p.pads, p.mode)]
            }
            op => eval::eval(op, &ins)
                .unwrap()
                .unwrap_or_else(|| panic!("{} not evaluated", node.name)),
        };
        for (&o, t) in node.outputs.iter().zip(outs) {
            assert_eq!(
                t.shape(),
                g.ty(o).shape.as_slice(),
                "reference shape of {}",
                node.name
            );
            vals[o.0 as usize] = Some(t);
        }
    }
    g.outputs
        .iter()
        .map(|o| vals[o.0 as usize].clone().unwrap())
        .collect()
}

/// NHWC convolution with OIHW weights.
pub fn conv(x: &Tensor, w: &Tensor, b: Option<&Tensor>, c: &Conv, out_shape: &[usize]) -> Tensor {
    let (xs, ws) = (x.shape(), w.shape());
    let (n, h, wd, cin) = (xs[0], xs[1], xs[2], xs[3]);
    let (o, ipg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let (oh, ow) = (out_shape[1], out_shape[2]);
    let og = o / c.group;
    let (xv, wv) = (x.to_f32_vec(), w.to_f32_vec());
    let bv = b.map(|b| b.to_f32_vec()).unwrap_or(vec![0.0; o]);
    let mut out = vec![0.0f32; n * oh * ow * o];
    for ni in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for oc in 0..o {
                    let g = oc / og;
                    let mut acc = bv[oc] as f64;
                    for ky in 0..kh {
                        let iy =
                            (oy * c.strides[0] + ky * c.dilations[0]) as i64 - c.pads[0] as i64;
                        if iy < 0 || iy >= h as i64 {
                            continue;
                        }
                        for kx in 0..kw {
                            let ix =
                                (ox * c.strides[1] + kx * c.dilations[1]) as i64 - c.pads[1] as i64;
                            if ix < 0 || ix >= wd as i64 {
                                continue;
                            }
                            for i in 0..ipg {
                                let ci = g * ipg + i;
                                let xval =
                                    xv[((ni * h + iy as usize) * wd + ix as usize) * cin + ci];
                                acc +=
                                    xval as f64 * wv[((oc * ipg + i) * kh + ky) * kw + kx] as f64;
                            }
                        }
                    }
                    out[((ni * oh + oy) * ow + ox) * o + oc] = acc as f32;
                }
            }
        }
    }
    f32t(out_shape.to_vec(), out)
}

/// NHWC transposed convolution with [I, O/group, kH, kW] weights.
pub fn conv_transpose(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    c: &ConvTranspose,
    out_shape: &[usize],
) -> Tensor {
    let (xs, ws) = (x.shape(), w.shape());
    let (n, h, wd, cin) = (xs[0], xs[1], xs[2], xs[3]);
    let (og, kh, kw) = (ws[1], ws[2], ws[3]);
    let (oh, ow, o) = (out_shape[1], out_shape[2], out_shape[3]);
    let cg = cin / c.group;
    let (xv, wv) = (x.to_f32_vec(), w.to_f32_vec());
    let bv = b.map(|b| b.to_f32_vec()).unwrap_or(vec![0.0; o]);
    let mut acc = vec![0.0f64; n * oh * ow * o];
    for ni in 0..n {
        for iy in 0..h {
            for ix in 0..wd {
                for ci in 0..cin {
                    let g = ci / cg;
                    let xval = xv[((ni * h + iy) * wd + ix) * cin + ci] as f64;
                    for ocl in 0..og {
                        let oc = g * og + ocl;
                        for ky in 0..kh {
                            let oy =
                                (iy * c.strides[0] + ky * c.dilations[0]) as i64 - c.pads[0] as i64;
                            if oy < 0 || oy >= oh as i64 {
                                continue;
                            }
                            for kx in 0..kw {
                                let ox = (ix * c.strides[1] + kx * c.dilations[1]) as i64
                                    - c.pads[1] as i64;
                                if ox < 0 || ox >= ow as i64 {
                                    continue;
                                }
                                let wval = wv[((ci * og + ocl) * kh + ky) * kw + kx] as f64;
                                acc[((ni * oh + oy as usize) * ow + ox as usize) * o + oc] +=
                                    xval * wval;
                            }
                        }
                    }
                }
            }
        }
    }
    let out = acc
        .iter()
        .enumerate()
        .map(|(i, &a)| (a + bv[i % o] as f64) as f32)
        .collect();
    f32t(out_shape.to_vec(), out)
}

/// NHWC max / average pooling.
pub fn pool(x: &Tensor, p: &Pool, out_shape: &[usize]) -> Tensor {
    let xs = x.shape();
    let (n, h, wd, c) = (xs[0], xs[1], xs[2], xs[3]);
    let (oh, ow) = (out_shape[1], out_shape[2]);
    let xv = x.to_f32_vec();
    let mut out = vec![0.0f32; n * oh * ow * c];
    for ni in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let (mut mx, mut sum, mut count) = (f32::NEG_INFINITY, 0.0f64, 0usize);
                    for ky in 0..p.kernel[0] {
                        for kx in 0..p.kernel[1] {
                            let iy = (oy * p.strides[0] + ky) as i64 - p.pads[0] as i64;
                            let ix = (ox * p.strides[1] + kx) as i64 - p.pads[1] as i64;
                            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                continue;
                            }
                            let v = xv[((ni * h + iy as usize) * wd + ix as usize) * c + ch];
                            mx = mx.max(v);
                            sum += v as f64;
                            count += 1;
                        }
                    }
                    let div = if p.count_include_pad {
                        p.kernel[0] * p.kernel[1]
                    } else {
                        count
                    };
                    out[((ni * oh + oy) * ow + ox) * c + ch] = match p.kind {
                        PoolKind::Max => mx,
                        PoolKind::Avg => (sum / div as f64) as f32,
                    };
                }
            }
        }
    }
    f32t(out_shape.to_vec(), out)
}

fn source_coord(coord: CoordMode, x: usize, input: usize, output: usize) -> f64 {
    let (x, i, o) = (x as f64, input as f64, output as f64);
    match coord {
        CoordMode::Asymmetric => x * i / o,
        CoordMode::HalfPixel => (x + 0.5) * i / o - 0.5,
        CoordMode::PytorchHalfPixel => {
            if output > 1 {
                (x + 0.5) * i / o - 0.5
            } else {
                0.0
            }
        }
        CoordMode::AlignCorners => {
            if output > 1 {
                x * (i - 1.0) / (o - 1.0)
            } else {
                0.0
            }
        }
    }
}

fn nearest(v: f64, mode: NearestMode, input: usize) -> usize {
    let f = v.floor();
    let frac = v - f;
    let idx = match mode {
        NearestMode::Floor => f,
        NearestMode::Ceil => v.ceil(),
        NearestMode::RoundPreferFloor => {
            if frac <= 0.5 {
                f
            } else {
                f + 1.0
            }
        }
        NearestMode::RoundPreferCeil => {
            if frac < 0.5 {
                f
            } else {
                f + 1.0
            }
        }
    };
    idx.clamp(0.0, input as f64 - 1.0) as usize
}

/// NHWC resize following ONNX Resize.
pub fn resize(x: &Tensor, r: &Resize) -> Tensor {
    let xs = x.shape();
    let (n, h, w, c) = (xs[0], xs[1], xs[2], xs[3]);
    let (oh, ow) = (r.size[0], r.size[1]);
    let xv = x.to_f32_vec();
    let at = |ni: usize, y: usize, xx: usize, ch: usize| xv[((ni * h + y) * w + xx) * c + ch];
    let mut out = Vec::with_capacity(n * oh * ow * c);
    for ni in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                let sy = source_coord(r.coord, oy, h, oh);
                let sx = source_coord(r.coord, ox, w, ow);
                for ch in 0..c {
                    let v = match r.mode {
                        ResizeMode::Nearest(m) => at(ni, nearest(sy, m, h), nearest(sx, m, w), ch),
                        ResizeMode::Linear => {
                            let sy = sy.clamp(0.0, h as f64 - 1.0);
                            let sx = sx.clamp(0.0, w as f64 - 1.0);
                            let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
                            let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
                            let (fy, fx) = (sy - y0 as f64, sx - x0 as f64);
                            let top = at(ni, y0, x0, ch) as f64 * (1.0 - fx)
                                + at(ni, y0, x1, ch) as f64 * fx;
                            let bot = at(ni, y1, x0, ch) as f64 * (1.0 - fx)
                                + at(ni, y1, x1, ch) as f64 * fx;
                            (top * (1.0 - fy) + bot * fy) as f32
                        }
                    };
                    out.push(v);
                }
            }
        }
    }
    f32t(vec![n, oh, ow, c], out)
}

pub fn softmax(x: &Tensor, axis: usize) -> Tensor {
    let s = x.shape();
    let st = strides(s);
    let xv = x.to_f32_vec();
    let mut out = vec![0.0f32; xv.len()];
    let (d, step) = (s[axis], st[axis]);
    for base in 0..xv.len() {
        if (base / step) % d != 0 {
            continue;
        }
        let idx: Vec<usize> = (0..d).map(|k| base + k * step).collect();
        let m = idx.iter().map(|&i| xv[i]).fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = idx.iter().map(|&i| (xv[i] as f64 - m).exp()).sum();
        for &i in &idx {
            out[i] = ((xv[i] as f64 - m).exp() / sum) as f32;
        }
    }
    f32t(s.to_vec(), out)
}

pub fn layer_norm(x: &Tensor, scale: &Tensor, bias: Option<&Tensor>, l: &LayerNorm) -> Tensor {
    let s = x.shape();
    let norm = &s[l.axis..];
    let inner: usize = norm.iter().product();
    let sc = broadcast_to(scale, norm).unwrap().to_f32_vec();
    let bi = bias
        .map(|b| broadcast_to(b, norm).unwrap().to_f32_vec())
        .unwrap_or(vec![0.0; inner]);
    let xv = x.to_f32_vec();
    let mut out = Vec::with_capacity(xv.len());
    for row in xv.chunks(inner) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / inner as f64;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / inner as f64;
        let r = 1.0 / (var + l.epsilon as f64).sqrt();
        out.extend(
            row.iter()
                .enumerate()
                .map(|(i, &v)| ((v as f64 - mean) * r * sc[i] as f64 + bi[i] as f64) as f32),
        );
    }
    f32t(s.to_vec(), out)
}

pub fn prelu(x: &Tensor, slope: &Tensor) -> Tensor {
    let sl = broadcast_to(slope, x.shape()).unwrap().to_f32_vec();
    let out = x
        .to_f32_vec()
        .iter()
        .zip(&sl)
        .map(|(&v, &a)| if v < 0.0 { a * v } else { v })
        .collect();
    f32t(x.shape().to_vec(), out)
}

/// numpy matmul with broadcast batch dims.
pub fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    let out_shape = matmul_shape(a.shape(), b.shape()).unwrap();
    let a2: Vec<usize> = if a.shape().len() == 1 {
        vec![1, a.shape()[0]]
    } else {
        a.shape().to_vec()
    };
    let b2: Vec<usize> = if b.shape().len() == 1 {
        vec![b.shape()[0], 1]
    } else {
        b.shape().to_vec()
    };
    let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
    let batch = broadcast_shapes(&a2[..a2.len() - 2], &b2[..b2.len() - 2]).unwrap();
    let mut fa = batch.clone();
    fa.extend([m, k]);
    let mut fb = batch.clone();
    fb.extend([k, n]);
    let av = broadcast_to(&a.clone().reshaped(a2.clone()).unwrap(), &fa)
        .unwrap()
        .to_f32_vec();
    let bv = broadcast_to(&b.clone().reshaped(b2.clone()).unwrap(), &fb)
        .unwrap()
        .to_f32_vec();
    let nb: usize = batch.iter().product();
    let mut out = vec![0.0f32; nb * m * n];
    for bi in 0..nb {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f64;
                for p in 0..k {
                    acc += av[(bi * m + i) * k + p] as f64 * bv[(bi * k + p) * n + j] as f64;
                }
                out[(bi * m + i) * n + j] = acc as f32;
            }
        }
    }
    f32t(out_shape, out)
}

/// Reflect / edge padding by index mapping.
pub fn pad_index(x: &Tensor, pads: &[[usize; 2]], mode: PadMode) -> Tensor {
    let s = x.shape();
    let out_shape: Vec<usize> = s.iter().zip(pads).map(|(d, p)| d + p[0] + p[1]).collect();
    let st = strides(s);
    let xv = x.to_f32_vec();
    let total: usize = out_shape.iter().product();
    let ost = strides(&out_shape);
    let mut out = Vec::with_capacity(total);
    for flat in 0..total {
        let mut src = 0;
        for a in 0..s.len() {
            let i = (flat / ost[a]) % out_shape[a];
            let j = i as i64 - pads[a][0] as i64;
            let d = s[a] as i64;
            let j = match mode {
                PadMode::Reflect => {
                    if j < 0 {
                        -j
                    } else if j >= d {
                        2 * (d - 1) - j
                    } else {
                        j
                    }
                }
                _ => j.clamp(0, d - 1),
            };
            src += j as usize * st[a];
        }
        out.push(xv[src]);
    }
    f32t(out_shape, out)
}
