//! Affine int8 quantization of activations, as TFLite, Core ML and ONNX QDQ store it:
//! `real = scale * (q - zero_point)` with `q` in [-128, 127].
//!
//! A value carries `QuantParams` when the artifact holds it as int8. Every consumer that
//! models the artifact (the CPU runtime's simulation, the exporters) reads the same numbers.

/// Per-tensor int8 parameters of one activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    pub scale: f32,
    pub zero_point: i8,
}

impl QuantParams {
    /// The parameters that cover `[min, max]` (widened to hold 0, so zero is exact).
    pub fn covering(min: f32, max: f32) -> QuantParams {
        let lo = min.min(0.0);
        let hi = max.max(0.0);
        let span = hi - lo;
        if !(span.is_finite() && span > 0.0) {
            return QuantParams { scale: 1.0, zero_point: 0 };
        }
        let scale = span / 255.0;
        let zp = (-128.0 - lo / scale).round().clamp(-128.0, 127.0);
        QuantParams { scale, zero_point: zp as i8 }
    }

    /// `x` on the int8 grid, rounding half away from zero (TFLite's QUANTIZE).
    pub fn quantize(self, x: f32) -> i8 {
        let q = (x / self.scale).round() + f32::from(self.zero_point);
        if q.is_nan() {
            return self.zero_point;
        }
        q.clamp(-128.0, 127.0) as i8
    }

    pub fn dequantize(self, q: i8) -> f32 {
        self.scale * (f32::from(q) - f32::from(self.zero_point))
    }

    /// What `x` becomes when stored as int8 and read back.
    pub fn fake(self, x: f32) -> f32 {
        self.dequantize(self.quantize(x))
    }

    /// The smallest and largest values the grid holds.
    pub fn range(self) -> (f32, f32) {
        (self.dequantize(-128), self.dequantize(127))
    }
}

/// How a hybrid kernel (TFLite's CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with int8
/// weights and float32 activations) quantizes its input as it runs: each run of `row` values
/// (a batch item for convolutions, a row for fully connected) gets its own int8 grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicQuant {
    pub row: usize,
    /// Symmetric (`max|x| / 127`, no zero point) rather than asymmetric (the row's min..max
    /// widened to hold 0, with a zero point).
    pub symmetric: bool,
}

impl DynamicQuant {
    /// What `values` become when the kernel quantizes them and the int32 product is scaled
    /// back: each row replaced by its int8 grid's reading (as TFLite's tensor utils round).
    pub fn fake(self, values: &mut [f32]) {
        for row in values.chunks_mut(self.row.max(1)) {
            if self.symmetric {
                symmetric_row(row);
            } else {
                asymmetric_row(row);
            }
        }
    }
}

fn min_max(row: &[f32]) -> (f32, f32) {
    row.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// `SymmetricQuantizeFloats`: q = round(x * 127 / range), read back as q * range / 127.
fn symmetric_row(row: &mut [f32]) {
    let (lo, hi) = min_max(row);
    let range = lo.abs().max(hi.abs());
    if !(range.is_finite() && range > 0.0) {
        row.fill(0.0);
        return;
    }
    let scale = range / 127.0;
    let inv = 127.0 / range;
    for x in row {
        *x = (*x * inv).round().clamp(-127.0, 127.0) * scale;
    }
}

/// `AsymmetricQuantizeFloats`: the row's range widened to hold 0 over 255 steps, the zero
/// point taken from the end with the smaller error and nudged onto the grid.
fn asymmetric_row(row: &mut [f32]) {
    let (lo, hi) = min_max(row);
    let (rmin, rmax) = (f64::from(lo.min(0.0)), f64::from(hi.max(0.0)));
    if rmin == rmax || !(rmin.is_finite() && rmax.is_finite()) {
        row.fill(0.0);
        return;
    }
    let (qmin, qmax) = (-128.0f64, 127.0f64);
    let scale = (rmax - rmin) / (qmax - qmin);
    let (from_min, from_max) = (qmin - rmin / scale, qmax - rmax / scale);
    let zp = if qmin.abs() + (rmin / scale).abs() < qmax.abs() + (rmax / scale).abs() { from_min } else { from_max };
    let zp = if zp <= qmin {
        qmin as f32
    } else if zp >= qmax {
        qmax as f32
    } else {
        zp.round() as f32
    };
    let scale = scale as f32;
    let inv = 1.0 / scale;
    for x in row {
        let q = (zp + *x * inv).round().clamp(-128.0, 127.0);
        *x = (q - zp) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_keeps_zero_exact_and_the_range() {
        let q = QuantParams::covering(-1.0, 3.0);
        assert_eq!(q.fake(0.0), 0.0);
        let (lo, hi) = q.range();
        assert!(lo <= -1.0 + q.scale && hi >= 3.0 - q.scale, "{lo} {hi}");
        assert_eq!(QuantParams::covering(0.0, 0.0), QuantParams { scale: 1.0, zero_point: 0 });
        let relu = QuantParams::covering(0.0, 6.0);
        assert_eq!(relu.zero_point, -128);
        assert_eq!(relu.quantize(-5.0), -128);
        assert_eq!(relu.quantize(100.0), 127);
    }

    #[test]
    fn dynamic_rows_get_their_own_grid() {
        let mut v = vec![0.0, 1.0, -0.5, 0.25, 10.0, 20.0, 30.0, 40.0];
        DynamicQuant { row: 4, symmetric: false }.fake(&mut v);
        // row 1 keeps its ends and zero; row 2 (all positive) widens to 0..40
        assert_eq!(v[0], 0.0);
        assert!((v[1] - 1.0).abs() < 1.5 / 255.0 * 1.0 + 1e-6, "{v:?}");
        assert!((v[7] - 40.0).abs() < 1e-4 && (v[4] - 10.0).abs() <= 40.0 / 255.0, "{v:?}");
        let mut s = vec![-2.0, 1.0, 0.3];
        DynamicQuant { row: 3, symmetric: true }.fake(&mut s);
        assert_eq!(s[0], -2.0);
        assert!((s[2] - 0.3).abs() <= 1.0 / 127.0, "{s:?}");
        let mut z = vec![0.0; 4];
        DynamicQuant { row: 2, symmetric: false }.fake(&mut z);
        assert_eq!(z, vec![0.0; 4]);
    }
}
