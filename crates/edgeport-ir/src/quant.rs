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
}
