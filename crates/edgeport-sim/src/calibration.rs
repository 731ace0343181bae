//! Calibrated throughput factors: `calibration.toml`, written by `cargo xtask sim-calibrate`.
//!
//! A factor multiplies a unit's roofline throughput. It is the product of a factor per
//! (unit kind, executed precision), fitted over every device, and a factor per (device, unit),
//! fitted on that device's rows and shrunk towards 1 so that a device with few published
//! measurements keeps close to the shared estimate. Devices without measurements use the
//! shared factors alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profile::{Precision, UnitKind};
use crate::workload::OpClass;
use crate::SimError;

const EMBEDDED: &str = include_str!("../calibration.toml");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// `"<unit>.<precision>"` -> factor, e.g. `"npu.int8" = 0.31`.
    #[serde(default)]
    pub kind: BTreeMap<String, f64>,
    /// `"<profile id>.<unit>"` -> factor relative to `kind`.
    #[serde(default)]
    pub device: BTreeMap<String, f64>,
    /// `"<unit>.<op group>"` -> efficiency multiplier of one op group on every device's unit of
    /// that kind (groups: conv, depthwise, matmul, other).
    #[serde(default)]
    pub class: BTreeMap<String, f64>,
    /// `"<unit>"` -> multiplier of the profiles' fixed costs (per op, per inference).
    #[serde(default)]
    pub overhead: BTreeMap<String, f64>,
}

/// Op groups with their own calibrated efficiency.
pub const GROUPS: [&str; 4] = ["conv", "depthwise", "matmul", "other"];

pub fn group_of(class: OpClass) -> usize {
    match class {
        OpClass::Conv | OpClass::ConvTranspose => 0,
        OpClass::DepthwiseConv => 1,
        OpClass::MatMul => 2,
        _ => 3,
    }
}

/// Everything the calibration says about one unit of one device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Multiplies the roofline throughput.
    pub throughput: f64,
    /// Multiplies the efficiency of each op group ([`GROUPS`]).
    pub group: [f64; 4],
    /// Multiplies the fixed costs.
    pub overhead: f64,
}

impl Calibration {
    /// The factors shipped with this build.
    pub fn embedded() -> Result<Calibration, SimError> {
        Calibration::parse(EMBEDDED)
    }

    pub fn parse(text: &str) -> Result<Calibration, SimError> {
        let c: Calibration = toml::from_str(text).map_err(|e| SimError::Calibration(e.to_string()))?;
        for (k, v) in c.kind.iter().chain(&c.device).chain(&c.class).chain(&c.overhead) {
            if !(v.is_finite() && *v > 0.0) {
                return Err(SimError::Calibration(format!("{k} = {v} is not a positive number")));
            }
        }
        Ok(c)
    }

    /// The shared factor's key. CPU kernels run fp16 at the fp32 rate (XNNPACK widens fp16 on
    /// most cores), so the CPU has one float factor: fallbacks of fp16 models cannot drift it.
    pub fn kind_key(unit: UnitKind, precision: Precision) -> String {
        let precision = if unit == UnitKind::Cpu && precision == Precision::Fp16 { Precision::Fp32 } else { precision };
        format!("{}.{}", unit.name(), precision.name())
    }

    pub fn device_key(profile: &str, unit: UnitKind) -> String {
        format!("{profile}.{}", unit.name())
    }

    /// The throughput multiplier for `unit` of `profile` running `precision`.
    pub fn factor(&self, profile: &str, unit: UnitKind, precision: Precision) -> f64 {
        let kind = self.kind.get(&Self::kind_key(unit, precision)).copied().unwrap_or(1.0);
        let device = self.device.get(&Self::device_key(profile, unit)).copied().unwrap_or(1.0);
        kind * device
    }

    pub fn class_key(unit: UnitKind, group: usize) -> String {
        format!("{}.{}", unit.name(), GROUPS.get(group).copied().unwrap_or("other"))
    }

    /// The full scale of `unit` of `profile` running `precision`, times a runtime's `speed`.
    pub fn scale(&self, profile: &str, unit: UnitKind, precision: Precision, speed: f64) -> Scale {
        let mut group = [1.0; 4];
        for (i, g) in group.iter_mut().enumerate() {
            *g = self.class.get(&Self::class_key(unit, i)).copied().unwrap_or(1.0);
        }
        Scale {
            throughput: self.factor(profile, unit, precision) * speed,
            group,
            overhead: self.overhead.get(unit.name()).copied().unwrap_or(1.0),
        }
    }

    /// The TOML text `cargo xtask sim-calibrate` writes.
    pub fn to_toml(&self, header: &str) -> Result<String, SimError> {
        let body = toml::to_string(self).map_err(|e| SimError::Calibration(e.to_string()))?;
        let mut out = String::new();
        for line in header.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&body);
        Ok(out)
    }
}
