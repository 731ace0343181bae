//! Share links in the page: the run report (`edgeport-report`, schema `edgeport.report/1`) with
//! the page's JSON mirrors of the engine's option and simulation types, carried deflated in the
//! URL fragment `#r=...` (see `edgeport_report::link`). A fragment is never sent to a server, so
//! a link carries the report without anything leaving the browser.

pub use edgeport_report::link::FRAGMENT_KEY;
pub use edgeport_report::{Fidelity, Measured, ModelRecord};

use crate::protocol::Options;
use crate::sim_report::Report;

/// The run report as the page reads and writes it.
pub type ShareRecord = edgeport_report::Report<Options, Report>;
pub type SharedConversion = edgeport_report::Conversion<Options>;
pub type SharedSimulation = edgeport_report::Simulation<Options, Report>;

/// The fragment payload (after `#r=`) for a report.
pub fn encode(record: &ShareRecord) -> Result<String, String> {
    edgeport_report::link::encode(record)
}

/// Reads a fragment; the error completes the sentence "this share link is damaged: ...".
pub fn decode(fragment: &str) -> Result<ShareRecord, String> {
    edgeport_report::link::decode(fragment)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn record() -> ShareRecord {
        let mut r = ShareRecord::new(ModelRecord { name: "m.onnx".into(), sha256: "ab".repeat(32), bytes: 1234 });
        r.conversion =
            Some(SharedConversion { options: Options::default(), file_name: "m.tflite".into(), sha256: "cd".repeat(32), size: 99 });
        r
    }

    #[test]
    fn round_trip() {
        let r = record();
        assert_eq!(decode(&format!("#r={}", encode(&r).unwrap())).unwrap(), r);
    }

    /// The engine's report (what the CLI's `--link` and the edge worker write) reads as the
    /// page's, field for field.
    #[cfg(feature = "engine")]
    #[test]
    fn engine_reports_open_in_the_page() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/resnet/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        let opts = edgeport_engine::ConvertOptions::default();
        let artifact = edgeport_engine::convert(&model, &opts, &mut |_| {}).unwrap();
        let mut engine = edgeport_engine::report::new("resnet.onnx", &model);
        edgeport_engine::report::add_conversion(&mut engine, &opts, &artifact);
        edgeport_engine::report::add_artifact_fidelity(&mut engine, &model, &opts, None).unwrap();
        let sim_opts = edgeport_engine::simulate::SimulateOptions { profiles: vec!["pixel8".into()], no_placement: true, ..Default::default() };
        let sim = edgeport_engine::simulate::simulate(&model, &opts, &sim_opts).unwrap();
        edgeport_engine::report::add_simulation(&mut engine, &opts, sim);
        let page = decode(&edgeport_engine::report::link::encode(&engine).unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&page.model).unwrap(), serde_json::to_value(&engine.model).unwrap());
        assert_eq!(page.conversion.as_ref().unwrap().sha256, artifact.sha256);
        assert_eq!(page.fidelity, engine.fidelity);
        let (p, e) = (page.simulation.unwrap().report, engine.simulation.unwrap().report);
        assert_eq!(p, crate::sim_report::report_from_engine(&e).unwrap());
    }

    /// mobilenetv2 simulated on every profile, with measurements, still fits in a link under 8 KB.
    #[cfg(feature = "engine")]
    #[test]
    fn mobilenet_on_every_profile_fits() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mobilenetv2/model.onnx");
        let Ok(model) = std::fs::read(path) else { return };
        let engine = edgeport_engine::simulate::simulate(&model, &Default::default(), &Default::default()).unwrap();
        let report = crate::sim_report::report_from_engine(&engine).unwrap().without_placement();
        assert!(report.results.len() > 40);
        let mut r = record();
        r.simulation = Some(SharedSimulation { options: Options::default(), report });
        let link = format!("http://127.0.0.1:8080/#r={}", encode(&r).unwrap());
        println!("share link for mobilenetv2 on every profile: {} characters", link.len());
        assert!(link.len() < 8192, "{}", link.len());
        assert_eq!(decode(link.split_once('#').unwrap().1).unwrap(), r);
    }
}
