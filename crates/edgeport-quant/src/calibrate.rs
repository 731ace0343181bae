//! Activation ranges from representative inputs, for full-integer quantization.
//!
//! The runtime shows a [`Calibrator`] every value of every calibration sample. Min-max needs one
//! pass; percentile and MSE need a second pass that fills a histogram over the first pass's
//! range. The result is one clipping range per value.

use std::collections::BTreeMap;

use edgeport_ir::{QuantParams, ValueId};

/// How a value's clipping range is chosen from what calibration saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// The smallest and largest value seen (TFLite's and ONNX Runtime's default).
    MinMax,
    /// The given percentile of |values| on each side (e.g. 99.99): outliers are clipped.
    Percentile(f32),
    /// The range whose int8 grid gives the least mean squared error over the histogram
    /// (clipping error against rounding error).
    Mse,
}

impl Method {
    fn needs_histogram(self) -> bool {
        !matches!(self, Method::MinMax)
    }
}

/// Histogram bins per value for percentile and MSE.
const BINS: usize = 2048;

#[derive(Debug, Clone)]
struct Stat {
    min: f32,
    max: f32,
    hist: Vec<u64>,
}

/// Collects per-value statistics over calibration samples.
#[derive(Debug, Clone)]
pub struct Calibrator {
    method: Method,
    stats: BTreeMap<ValueId, Stat>,
}

impl Calibrator {
    pub fn new(method: Method) -> Calibrator {
        Calibrator { method, stats: BTreeMap::new() }
    }

    /// How many times every sample must be run and observed (1 or 2).
    pub fn passes(&self) -> usize {
        if self.method.needs_histogram() { 2 } else { 1 }
    }

    /// Records the values `data` of value `v` seen in pass `pass` (0-based). Non-finite values
    /// are ignored.
    pub fn observe(&mut self, pass: usize, v: ValueId, data: &[f32]) {
        if pass == 0 {
            let s = self.stats.entry(v).or_insert(Stat { min: f32::INFINITY, max: f32::NEG_INFINITY, hist: Vec::new() });
            for &x in data.iter().filter(|x| x.is_finite()) {
                s.min = s.min.min(x);
                s.max = s.max.max(x);
            }
            return;
        }
        let Some(s) = self.stats.get_mut(&v) else { return };
        // min and max are never NaN (only finite values are seen)
        if s.min >= s.max {
            return;
        }
        if s.hist.is_empty() {
            s.hist = vec![0; BINS];
        }
        let width = (s.max - s.min) / BINS as f32;
        for &x in data.iter().filter(|x| x.is_finite()) {
            let b = ((x - s.min) / width) as usize;
            s.hist[b.min(BINS - 1)] += 1;
        }
    }

    /// The clipping range of every value seen (finite values only; a value that was never
    /// finite gets none).
    pub fn ranges(&self) -> BTreeMap<ValueId, (f32, f32)> {
        self.stats
            .iter()
            .filter(|(_, s)| s.min <= s.max)
            .map(|(&v, s)| {
                let r = match self.method {
                    _ if s.hist.is_empty() => (s.min, s.max),
                    Method::MinMax => (s.min, s.max),
                    Method::Percentile(p) => percentile_range(s, p),
                    Method::Mse => mse_range(s),
                };
                (v, (snap(r.0, false), snap(r.1, true)))
            })
            .collect()
    }
}

/// `x` rounded away from zero to 8 significant bits. Runtimes on different machines (native,
/// wasm) may sum floats in a different order and see extremes that differ in the last bits;
/// snapped ranges give them the same int8 grid, so artifacts stay byte-identical.
fn snap(x: f32, up: bool) -> f32 {
    if x == 0.0 || !x.is_normal() {
        return x;
    }
    let exponent = ((x.to_bits() >> 23) & 0xff) as i32 - 127;
    let step = f32::from_bits(((exponent - 7 + 127).max(1) as u32) << 23);
    let k = x / step;
    (if up { k.ceil() } else { k.floor() }) * step
}

fn bin_center(s: &Stat, b: usize) -> f32 {
    s.min + (b as f32 + 0.5) * (s.max - s.min) / BINS as f32
}

/// Clips the outer `100 - p` percent of the values on each side where the range extends past 0
/// (a side that stops at 0, as after a ReLU, stays).
fn percentile_range(s: &Stat, p: f32) -> (f32, f32) {
    let total: u64 = s.hist.iter().sum();
    if total == 0 {
        return (s.min, s.max);
    }
    let tail = ((1.0 - f64::from(p.clamp(50.0, 100.0)) / 100.0) * total as f64).floor() as u64;
    let mut acc = 0;
    let mut lo = s.min;
    for (b, &c) in s.hist.iter().enumerate() {
        acc += c;
        if acc > tail {
            lo = if b == 0 { s.min } else { bin_center(s, b) - 0.5 * (s.max - s.min) / BINS as f32 };
            break;
        }
    }
    acc = 0;
    let mut hi = s.max;
    for (b, &c) in s.hist.iter().enumerate().rev() {
        acc += c;
        if acc > tail {
            hi = if b == BINS - 1 { s.max } else { bin_center(s, b) + 0.5 * (s.max - s.min) / BINS as f32 };
            break;
        }
    }
    (if s.min >= 0.0 { s.min } else { lo }, if s.max <= 0.0 { s.max } else { hi })
}

/// The range, shrunk from min-max in steps, whose int8 grid has the least expected squared
/// error over the histogram: clipped values cost their distance to the edge, the others a
/// rounding error of scale² / 12.
fn mse_range(s: &Stat) -> (f32, f32) {
    let mut best = ((s.min, s.max), f64::INFINITY);
    for k in 0..=40 {
        let f = 1.0 - k as f32 * 0.02;
        let (lo, hi) = (s.min * f, s.max * f);
        let q = QuantParams::covering(lo, hi);
        let (glo, ghi) = q.range();
        let round = f64::from(q.scale) * f64::from(q.scale) / 12.0;
        let mut err = 0.0f64;
        for (b, &c) in s.hist.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let x = bin_center(s, b);
            let e = if x < glo {
                f64::from(glo - x).powi(2)
            } else if x > ghi {
                f64::from(x - ghi).powi(2)
            } else {
                round
            };
            err += e * c as f64;
        }
        if err < best.1 {
            best = ((lo, hi), err);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(method: Method, data: &[f32]) -> (f32, f32) {
        let mut c = Calibrator::new(method);
        for pass in 0..c.passes() {
            c.observe(pass, ValueId(0), data);
        }
        c.ranges()[&ValueId(0)]
    }

    #[test]
    fn methods_clip_outliers_differently() {
        let mut data: Vec<f32> = (0..10_000).map(|i| (i % 200) as f32 / 100.0 - 1.0).collect();
        data.push(50.0);
        let (lo, hi) = run(Method::MinMax, &data);
        assert_eq!((lo, hi), (-1.0, 50.0));
        let (plo, phi) = run(Method::Percentile(99.9), &data);
        assert!(phi < 2.0 && plo < -0.9, "{plo} {phi}");
        let (_, mhi) = run(Method::Mse, &data);
        assert!(mhi < 50.0, "{mhi}");
    }

    #[test]
    fn ranges_snap_outward_to_eight_bits() {
        assert_eq!(snap(1.0, true), 1.0);
        assert_eq!(snap(1.001, true), 1.0078125);
        assert_eq!(snap(1.001, false), 1.0);
        assert_eq!(snap(-1.001, false), -1.0078125);
        assert_eq!(snap(0.0, true), 0.0);
        // one ulp apart, same snapped value
        let a = 0.123_456_7_f32;
        assert_eq!(snap(a, true), snap(f32::from_bits(a.to_bits() + 1), true));
    }

    #[test]
    fn relu_ranges_keep_zero_and_nan_is_ignored() {
        let data = [0.0, 0.5, 1.0, f32::NAN, 2.0];
        for m in [Method::MinMax, Method::Percentile(99.99), Method::Mse] {
            let (lo, hi) = run(m, &data);
            assert_eq!(lo, 0.0, "{m:?}");
            assert!(hi > 0.0 && hi <= 2.0, "{m:?}");
        }
    }
}
