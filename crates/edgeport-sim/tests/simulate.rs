//! Properties of the simulator that must hold whatever the calibration says.

use edgeport_sim::profile::{self, Format, Precision, UnitKind};
use edgeport_sim::{Calibration, Scenario, simulate, zoo};

fn scenario(unit: UnitKind, precision: Precision) -> Scenario {
    Scenario { format: Format::Tflite, precision, weight_bits: None, unit, path: None }
}

#[test]
fn mobilenet_v2_on_pixel8_is_plausible() {
    let w = zoo::get("mobilenet_v2_224").expect("in the zoo");
    let p = profile::by_id("pixel8").expect("pixel8");
    let cal = Calibration::embedded().expect("calibration parses");
    for (unit, prec) in [(UnitKind::Cpu, Precision::Fp32), (UnitKind::Gpu, Precision::Fp32), (UnitKind::Npu, Precision::Int8)] {
        let r = simulate(&w, &p, &scenario(unit, prec), &cal).expect("simulates");
        println!("{:?} {:?}: {:.2} ms {:?}", unit, prec, r.latency_ms, r.warnings);
        assert!(r.latency_ms > 0.05 && r.latency_ms < 200.0, "{unit:?}: {} ms", r.latency_ms);
        assert_eq!(r.placement.len(), w.layers.len());
    }
}
