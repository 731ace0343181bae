//! Simulated latency of a model variant on a device: device profiles (data files), op placement
//! on a runtime path with CPU fallback, and a roofline cost per layer scaled by efficiency
//! factors calibrated against published measurements.
//!
//! - [`profile`]: the profile schema and the embedded `profiles/*.toml`.
//! - [`workload`]: a model as layers (from an IR graph, or built for calibration).
//! - [`zoo`]: well-known architectures as workloads, for calibration against published figures.

#[cfg(feature = "calibrate")]
pub mod calibrate;
pub mod budget;
pub mod calibration;
pub mod cost;
pub mod fuse;
pub mod profile;
pub mod simulate;
pub mod workload;
pub mod zoo;

pub use calibration::Calibration;
pub use simulate::{Placement, Scenario, SimResult, simulate};
pub use profile::{DeviceKind, Format, Precision, Profile, RuntimePath, Unit, UnitKind};
pub use workload::{Layer, OpClass, Operand, Workload, WorkloadBuilder};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("profile {file}: {message}")]
    Profile { file: String, message: String },
    #[error("unknown profile '{0}' (see `edgeport simulate --list-profiles`)")]
    UnknownProfile(String),
    #[error("{profile}: {message}")]
    Scenario { profile: String, message: String },
    #[error("calibration data: {0}")]
    Calibration(String),
}
