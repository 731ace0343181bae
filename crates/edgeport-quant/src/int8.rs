//! Symmetric per-channel int8 weights: `w ≈ q * scale[c]`, `q` in [-127, 127], one scale per
//! output channel (`scale = max|w_c| / 127`, zero point 0), as TFLite and coremltools quantize
//! weights.

use edgeport_ir::{DType, Graph, Tensor};

use crate::Quantized;
use crate::weights;

/// An int8 tensor with per-channel scales along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8 {
    pub axis: usize,
    pub q: Vec<i8>,
    pub scales: Vec<f32>,
}

/// Replaces every weight of `g` with its int8 per-channel decoding; returns what changed.
pub fn quantize_weights(g: &mut Graph) -> Vec<Quantized> {
    let mut done = Vec::new();
    for (v, axis) in weights::candidates(g) {
        let Some(t) = g.constant(v) else { continue };
        let values = t.to_f32_vec();
        let shape = t.shape().to_vec();
        let q = quantize(&values, &shape, axis);
        let decoded = dequantize(&q, &shape);
        let Ok(t) = Tensor::from_f32(shape, decoded) else { continue };
        let t = if g.ty(v).dtype == DType::F32 { t } else { t.cast(g.ty(v).dtype) };
        done.push(Quantized { name: g.value(v).name.clone(), elements: t.len(), axis });
        g.set_const(v, t);
    }
    done
}

/// Per-channel symmetric int8 of `values` (of `shape`) along `axis`.
pub fn quantize(values: &[f32], shape: &[usize], axis: usize) -> Int8 {
    let (outer, channels, inner) = split(shape, axis);
    let mut scales = vec![0f32; channels];
    for (c, s) in scales.iter_mut().enumerate() {
        let max = channel(values, outer, channels, inner, c).fold(0f32, |m, x| m.max(x.abs()));
        *s = stable_scale(max);
    }
    let q = values
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let s = scales[(i / inner) % channels];
            (x / s).round_ties_even().clamp(-127.0, 127.0) as i8
        })
        .collect();
    Int8 { axis, q, scales }
}

/// The values an [`Int8`] decodes to: `q * scale`, in float32.
pub fn dequantize(t: &Int8, shape: &[usize]) -> Vec<f32> {
    let (_, channels, inner) = split(shape, t.axis);
    t.q.iter().enumerate().map(|(i, &q)| f32::from(q) * t.scales[(i / inner) % channels]).collect()
}

/// The int8 form whose decoding is exactly `values`, along the first axis that has one; `None`
/// when the values are not on an int8 grid (they were not quantized, or were changed since).
pub fn recover(values: &[f32], shape: &[usize]) -> Option<Int8> {
    (0..shape.len()).find_map(|axis| recover_along(values, shape, axis))
}

/// [`recover`] along `axis` only.
pub fn recover_along(values: &[f32], shape: &[usize], axis: usize) -> Option<Int8> {
    let q = quantize(values, shape, axis);
    (dequantize(&q, shape).iter().zip(values).all(|(a, b)| a.to_bits() == b.to_bits())).then_some(q)
}

/// `max / 127`, nudged to a value that survives `(s * 127) / 127`, so that recovering the
/// scale from the decoded maximum (`127 * s`) gives `s` back bit for bit. An all-zero channel
/// gets scale 1 (its values stay 0).
fn stable_scale(max: f32) -> f32 {
    if max == 0.0 || !max.is_finite() {
        return 1.0;
    }
    let mut s = max / 127.0;
    for _ in 0..4 {
        let back = (s * 127.0) / 127.0;
        if back == s {
            break;
        }
        s = back;
    }
    s
}

/// (elements before, channels, elements after) around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let channels = shape.get(axis).copied().unwrap_or(1).max(1);
    let outer = shape[..axis.min(shape.len())].iter().product::<usize>();
    let inner = shape.get(axis + 1..).map_or(1, |s| s.iter().product::<usize>());
    (outer, channels, inner.max(1))
}

fn channel(values: &[f32], outer: usize, channels: usize, inner: usize, c: usize) -> impl Iterator<Item = f32> + '_ {
    (0..outer).flat_map(move |o| {
        let start = (o * channels + c) * inner;
        values[start..start + inner].iter().copied()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
            })
            .collect()
    }

    #[test]
    fn decoded_values_recover_their_int8_form_on_every_axis() {
        let shape = [6, 5, 3, 3];
        let w = lcg(270, 7);
        for axis in 0..4 {
            let q = quantize(&w, &shape, axis);
            assert!(q.q.iter().all(|&x| (-127..=127).contains(&x)));
            let decoded = dequantize(&q, &shape);
            // error at most half a step per channel
            let (_, ch, inner) = split(&shape, axis);
            for (i, (a, b)) in decoded.iter().zip(&w).enumerate() {
                assert!((a - b).abs() <= q.scales[(i / inner) % ch] * 0.5 + 1e-7);
            }
            let back = recover(&decoded, &shape).unwrap();
            assert_eq!(dequantize(&back, &shape), decoded, "axis {axis}");
        }
    }

    #[test]
    fn recovery_finds_the_quantized_axis_and_refuses_float_data() {
        let shape = [4, 64];
        let w = lcg(256, 3);
        let q = quantize(&w, &shape, 1);
        let decoded = dequantize(&q, &shape);
        let back = recover(&decoded, &shape).unwrap();
        assert_eq!(back.axis, 1);
        assert_eq!(back.q, q.q);
        assert!(recover(&w, &shape).is_none(), "unquantized weights are not on a grid");
    }

    #[test]
    fn zero_channels_and_stable_scales() {
        let shape = [2, 3];
        let w = [0.0, 0.0, 0.0, 1.0, -0.5, 0.25];
        let q = quantize(&w, &shape, 0);
        assert_eq!(q.scales[0], 1.0);
        assert_eq!(&q.q[..3], &[0, 0, 0]);
        assert_eq!(q.q[3], 127);
        for m in [1e-30f32, 0.1, 1.0, 3.3, 1e30] {
            let s = stable_scale(m);
            assert_eq!((s * 127.0) / 127.0, s, "{m}");
        }
    }
}
