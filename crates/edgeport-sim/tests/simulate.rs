//! Properties of the simulator that must hold whatever the calibration says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// Every (profile, path) with the format and precision the path runs, on a few architectures.
fn each_case(mut f: impl FnMut(&edgeport_sim::Workload, &edgeport_sim::Profile, &Scenario)) {
    let archs = ["mobilenet_v2_224", "mobilenet_v3_large_224", "resnet50_224", "distilbert_base_uncased_384"];
    let workloads: Vec<_> = archs.iter().map(|a| edgeport_sim::fuse::fuse_activations(zoo::get(a).expect("zoo"))).collect();
    for p in profile::all().expect("profiles") {
        for path in &p.paths {
            let precision = path.precisions[0];
            let format = path.formats[0];
            let s = Scenario { format, precision, weight_bits: None, unit: path.unit, path: Some(path.id.clone()) };
            for w in &workloads {
                f(w, &p, &s);
            }
        }
    }
}

#[test]
fn more_flops_or_bytes_are_never_faster() {
    let cal = Calibration::embedded().expect("calibration parses");
    each_case(|w, p, s| {
        let Ok(base) = simulate(w, p, s, &cal) else { return };
        for k in (0..w.layers.len()).step_by(7) {
            let mut more = w.clone();
            more.layers[k].flops = more.layers[k].flops * 2 + 1000;
            let r = simulate(&more, p, s, &cal).expect("still simulates");
            assert!(r.latency_ms >= base.latency_ms - 1e-12, "{} {}: more FLOPs in layer {k} ran faster", p.id, s.unit.name());
            let mut bigger = w.clone();
            bigger.layers[k].output_elems = bigger.layers[k].output_elems * 2 + 1000;
            bigger.layers[k].weight_elems += 1000;
            let r = simulate(&bigger, p, s, &cal).expect("still simulates");
            assert!(r.latency_ms >= base.latency_ms - 1e-12, "{} {}: more bytes in layer {k} ran faster", p.id, s.unit.name());
        }
    });
}

#[test]
fn a_delegate_that_takes_more_ops_is_never_slower() {
    let cal = Calibration::embedded().expect("calibration parses");
    let mut checked = 0;
    each_case(|w, p, s| {
        let Ok(base) = simulate(w, p, s, &cal) else { return };
        let Some(path_id) = s.path.clone() else { return };
        let Some(path) = p.path(&path_id) else { return };
        for (i, op) in path.unsupported_ops.iter().enumerate() {
            if !w.layers.iter().any(|l| &l.op == op) {
                continue;
            }
            let mut wider = p.clone();
            if let Some(x) = wider.paths.iter_mut().find(|x| x.id == path_id) {
                x.unsupported_ops.remove(i);
            }
            let r = simulate(w, &wider, s, &cal).expect("still simulates");
            checked += 1;
            assert!(
                r.latency_ms <= base.latency_ms + 1e-9,
                "{} {} on {}: accepting {op} made it slower ({:.4} -> {:.4} ms)",
                p.id,
                path_id,
                w.name,
                base.latency_ms,
                r.latency_ms
            );
        }
    });
    assert!(checked > 0, "no case exercised a fallback");
}
