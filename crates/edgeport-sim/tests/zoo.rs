//! The zoo's architectures have the arithmetic and parameter counts their papers state.

use edgeport_sim::zoo;

/// (id, GMACs, M params) as published; within 10 %.
const PUBLISHED: &[(&str, f64, f64)] = &[("mobilenet_v2_224", 0.300, 3.50)];

#[test]
fn macs_and_params_match_the_papers() {
    for &(id, gmacs, mparams) in PUBLISHED {
        let w = zoo::get(id).unwrap_or_else(|| panic!("{id} is in the zoo"));
        let macs = w.layers.iter().filter(|l| l.class.is_linear()).map(|l| l.flops / 2).sum::<u64>() as f64 / 1e9;
        let params = w.weight_elems() as f64 / 1e6;
        assert!((macs / gmacs - 1.0).abs() < 0.10, "{id}: {macs:.3} GMACs, published {gmacs}");
        assert!((params / mparams - 1.0).abs() < 0.10, "{id}: {params:.2} M params, published {mparams}");
    }
}

#[test]
fn every_architecture_builds_with_consistent_edges() {
    for (id, _, build) in zoo::all() {
        let w = build();
        assert!(!w.layers.is_empty(), "{id}");
        for (i, l) in w.layers.iter().enumerate() {
            for op in &l.inputs {
                if let edgeport_sim::Operand::Layer(p) = op {
                    assert!(*p < i, "{id}: layer {i} reads a later layer {p}");
                }
            }
        }
    }
}
