//! Palettization: every weight tensor takes its values from a lookup table of `2^bits` entries
//! (per tensor), found by 1-D k-means (k-means++ seeding from a fixed seed, then Lloyd
//! iterations, so the same weights always give the same table) or spread uniformly between the
//! tensor's extremes; each weight becomes its nearest entry.

use edgeport_ir::{DType, Graph, Tensor};

use crate::Quantized;
use crate::weights;

/// Bits per index a table may use.
pub const BITS: [u8; 6] = [1, 2, 3, 4, 6, 8];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Kmeans,
    Uniform,
}

/// A table and one index per value.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub bits: u8,
    /// `2^bits` entries, ascending (unused entries repeat the last one).
    pub lut: Vec<f32>,
    pub indices: Vec<u8>,
}

/// Replaces every weight of `g` with its palettized values; returns what changed. `group`:
/// one table per tensor (`None`) or per run of that many output channels (a group size that
/// does not divide a tensor's channels shrinks to their greatest common divisor). With
/// `keep_zeros` (pruned weights), exact zeros stay zero and the tables hold the other values.
pub fn palettize_weights(g: &mut Graph, bits: u8, mode: Mode, group: Option<usize>, keep_zeros: bool) -> Vec<Quantized> {
    let mut done = Vec::new();
    for (v, axis) in weights::candidates(g) {
        let Some(t) = g.constant(v) else { continue };
        let shape = t.shape().to_vec();
        let mut values = t.to_f32_vec();
        let channels = shape.get(axis).copied().unwrap_or(1).max(1);
        let size = group.map_or(channels, |gs| gcd(channels, gs.max(1)));
        for mut members in groups(&shape, axis, size) {
            if keep_zeros {
                members.retain(|&i| values[i] != 0.0);
            }
            let own: Vec<f32> = members.iter().map(|&i| values[i]).collect();
            let lut = table(&own, bits, mode);
            for &i in &members {
                values[i] = lut[nearest(&lut, values[i])];
            }
        }
        let Ok(t) = Tensor::from_f32(shape, values) else { continue };
        let t = if g.ty(v).dtype == DType::F32 { t } else { t.cast(g.ty(v).dtype) };
        done.push(Quantized { name: g.value(v).name.clone(), elements: t.len(), axis });
        g.set_const(v, t);
    }
    done
}

/// Palettes per group of channels: `lut` holds `2^bits` entries per group, groups in order of
/// their first channel; `indices` one per value (into its group's table).
#[derive(Debug, Clone, PartialEq)]
pub struct Grouped {
    pub bits: u8,
    pub axis: usize,
    /// Channels per group along `axis`.
    pub group: usize,
    pub lut: Vec<f32>,
    pub indices: Vec<u8>,
}

/// The grouped tables whose decoding is exactly `values` (of `shape`), along the first axis
/// where every group of `group` channels (or their gcd with the axis) holds at most `2^bits`
/// distinct values; `None` when there is none. With `skip_zeros` the exact zeros (a sparse
/// tensor's empty places) take no table entry (their index is 0).
pub fn recover_grouped(values: &[f32], shape: &[usize], bits: u8, group: usize, skip_zeros: bool) -> Option<Grouped> {
    let k = 1usize << bits.min(8);
    'axes: for axis in 0..shape.len() {
        let size = gcd(shape[axis].max(1), group.max(1));
        let mut lut = Vec::new();
        let mut indices = vec![0u8; values.len()];
        for mut members in groups(shape, axis, size) {
            if skip_zeros {
                members.retain(|&i| values[i] != 0.0);
            }
            if members.is_empty() {
                lut.extend(std::iter::repeat_n(0.0, k));
                continue;
            }
            let own: Vec<f32> = members.iter().map(|&i| values[i]).collect();
            let Some(p) = recover(&own, bits) else { continue 'axes };
            for (&i, &q) in members.iter().zip(&p.indices) {
                indices[i] = q;
            }
            debug_assert_eq!(p.lut.len(), k);
            lut.extend_from_slice(&p.lut);
        }
        return Some(Grouped { bits, axis, group: size, lut, indices });
    }
    None
}

/// Flat positions of each group of `size` consecutive channels along `axis`, in channel order.
fn groups(shape: &[usize], axis: usize, size: usize) -> Vec<Vec<usize>> {
    let channels = shape.get(axis).copied().unwrap_or(1).max(1);
    let outer: usize = shape[..axis.min(shape.len())].iter().product();
    let inner: usize = shape.get(axis + 1..).map_or(1, |s| s.iter().product::<usize>()).max(1);
    let size = size.clamp(1, channels);
    (0..channels / size)
        .map(|g| {
            let mut members = Vec::with_capacity(outer * size * inner);
            for o in 0..outer {
                for c in g * size..(g + 1) * size {
                    let start = (o * channels + c) * inner;
                    members.extend(start..start + inner);
                }
            }
            members
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The table for `values`: `2^bits` ascending entries.
pub fn table(values: &[f32], bits: u8, mode: Mode) -> Vec<f32> {
    let k = 1usize << bits.min(8);
    let mut sorted: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else { return vec![0.0; k] };
    let mut lut = match mode {
        Mode::Uniform => (0..k).map(|i| if k == 1 { lo } else { lo + (hi - lo) * i as f32 / (k - 1) as f32 }).collect(),
        Mode::Kmeans => kmeans(&sorted, k),
    };
    lut.sort_by(f32::total_cmp);
    lut
}

/// The table and indices whose decoding is exactly `values`, when they hold at most `2^bits`
/// distinct values; `None` otherwise (not palettized, or changed since).
pub fn recover(values: &[f32], bits: u8) -> Option<Palette> {
    let k = 1usize << bits.min(8);
    let mut lut: Vec<f32> = Vec::with_capacity(k);
    let mut sorted: Vec<f32> = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted.dedup_by(|a, b| a.to_bits() == b.to_bits());
    if sorted.len() > k || sorted.is_empty() {
        return None;
    }
    lut.extend_from_slice(&sorted);
    let last = *lut.last()?;
    lut.resize(k, last);
    let indices = values
        .iter()
        .map(|x| sorted.binary_search_by(|p| p.total_cmp(x)).ok().and_then(|i| u8::try_from(i).ok()))
        .collect::<Option<Vec<u8>>>()?;
    Some(Palette { bits, lut, indices })
}

/// Indices packed `bits` at a time, least significant bit first (Core ML's iOS16 layout).
pub fn pack(indices: &[u8], bits: u8) -> Vec<u8> {
    let bits = usize::from(bits);
    let mut out = vec![0u8; (indices.len() * bits).div_ceil(8)];
    for (i, &x) in indices.iter().enumerate() {
        for b in 0..bits {
            if (x >> b) & 1 == 1 {
                let at = i * bits + b;
                out[at / 8] |= 1 << (at % 8);
            }
        }
    }
    out
}

fn nearest(lut: &[f32], x: f32) -> usize {
    let i = lut.partition_point(|&p| p < x);
    match (i.checked_sub(1), lut.get(i)) {
        (Some(j), Some(&hi)) if (x - lut[j]) <= (hi - x) => j,
        (Some(j), None) => j,
        _ => i.min(lut.len().saturating_sub(1)),
    }
}

/// 1-D k-means over sorted values: k-means++ seeding with a fixed-seed generator, then Lloyd
/// iterations, each an O(n) sweep (clusters of sorted data are contiguous runs).
fn kmeans(sorted: &[f32], k: usize) -> Vec<f32> {
    let n = sorted.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0f64);
    for &x in sorted {
        prefix.push(prefix[prefix.len() - 1] + f64::from(x));
    }
    let mut rng: u64 = 0x005E_ED0F_ED6E_9087;
    let mut next = || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    // k-means++ on a strided sample (at most 4096 points), for speed on large tensors.
    let step = n.div_ceil(4096).max(1);
    let sample: Vec<f32> = sorted.iter().step_by(step).copied().collect();
    let mut centers = vec![sample[sample.len() / 2]];
    let mut d2: Vec<f64> = sample.iter().map(|&x| f64::from(x - centers[0]).powi(2)).collect();
    while centers.len() < k {
        let total: f64 = d2.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut r = next() * total;
        let mut pick = sample.len() - 1;
        for (i, &d) in d2.iter().enumerate() {
            if r < d {
                pick = i;
                break;
            }
            r -= d;
        }
        let c = sample[pick];
        centers.push(c);
        for (d, &x) in d2.iter_mut().zip(&sample) {
            *d = d.min(f64::from(x - c).powi(2));
        }
    }
    centers.sort_by(f32::total_cmp);
    centers.dedup();
    for _ in 0..100 {
        let mut moved = false;
        let mut start = 0;
        let mut updated = Vec::with_capacity(centers.len());
        for j in 0..centers.len() {
            let end = if j + 1 == centers.len() {
                n
            } else {
                let mid = 0.5 * (centers[j] + centers[j + 1]);
                sorted.partition_point(|&x| x <= mid)
            };
            if end > start {
                let mean = ((prefix[end] - prefix[start]) / (end - start) as f64) as f32;
                moved |= mean != centers[j];
                updated.push(mean);
            }
            start = end;
        }
        centers = updated;
        if !moved {
            break;
        }
    }
    let last = centers.last().copied().unwrap_or(0.0);
    centers.resize(k, last);
    centers
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lcg(n: usize) -> Vec<f32> {
        let mut s = 11u64;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (s >> 40) as f32 / (1u64 << 24) as f32;
                (u - 0.5) * (u - 0.5) * 8.0 * if s & 1 == 0 { 1.0 } else { -1.0 }
            })
            .collect()
    }

    #[test]
    fn kmeans_beats_uniform_and_is_deterministic() {
        let w = lcg(20_000);
        let err = |lut: &[f32]| w.iter().map(|&x| f64::from(x - lut[nearest(lut, x)]).powi(2)).sum::<f64>();
        for bits in [2, 4] {
            let k = table(&w, bits, Mode::Kmeans);
            let u = table(&w, bits, Mode::Uniform);
            assert_eq!(k.len(), 1 << bits);
            assert!(err(&k) < err(&u), "{bits} bits: kmeans {} uniform {}", err(&k), err(&u));
            assert_eq!(k, table(&w, bits, Mode::Kmeans));
        }
    }

    #[test]
    fn palettized_values_recover_exactly() {
        let w = lcg(5000);
        for bits in BITS {
            let lut = table(&w, bits, Mode::Kmeans);
            let decoded: Vec<f32> = w.iter().map(|&x| lut[nearest(&lut, x)]).collect();
            let p = recover(&decoded, bits).unwrap();
            let back: Vec<f32> = p.indices.iter().map(|&i| p.lut[usize::from(i)]).collect();
            assert_eq!(back, decoded, "{bits} bits");
            assert!(recover(&w, bits).is_none());
        }
    }

    #[test]
    fn packing_is_lsb_first() {
        assert_eq!(pack(&[1, 0, 1, 1], 1), vec![0b1101]);
        assert_eq!(pack(&[3, 1], 4), vec![0x13]);
        assert_eq!(pack(&[5, 2, 7], 3), vec![0b1101_0101, 0b1]);
    }

    #[test]
    fn grouped_tables_recover_per_group() {
        // [4 channels, 6 values]: channels 0-1 and 2-3 take values from their own tables
        let mut v: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
        let shape = [4, 6];
        for members in groups(&shape, 0, 2) {
            let own: Vec<f32> = members.iter().map(|&i| v[i]).collect();
            let lut = table(&own, 2, Mode::Kmeans);
            for &i in &members {
                v[i] = lut[nearest(&lut, v[i])];
            }
        }
        let g = recover_grouped(&v, &shape, 2, 2, false).unwrap();
        assert_eq!((g.axis, g.group, g.lut.len()), (0, 2, 8));
        for (i, &q) in g.indices.iter().enumerate() {
            assert_eq!(g.lut[(i / 12) * 4 + usize::from(q)], v[i]);
        }
        // one table cannot hold all of them
        assert!(recover(&v, 2).is_none());
        assert_eq!(groups(&[2, 3, 2], 1, 1)[1], vec![2, 3, 8, 9]);
    }
}
