//! Peer for `cargo xtask bench cpu`: times tract (the ONNX runtime edgeport's importer already
//! links) on a model, single-threaded, printing the same JSON fields as `edgeport bench --json`.
//!
//! Usage: tract_peer MODEL INPUT.npz RUNS WARMUP

use std::time::Instant;

use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, input, runs, warmup] = args.as_slice() else {
        eprintln!("usage: tract_peer MODEL INPUT.npz RUNS WARMUP");
        std::process::exit(2);
    };
    let (runs, warmup): (usize, usize) = (runs.parse()?, warmup.parse()?);
    let bytes = std::fs::read(input)?;
    let inputs = edgeport_engine::npz::read_npz(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let t0 = Instant::now();
    let mut model = tract_onnx::onnx().model_for_path(model)?;
    for (i, (_, t)) in inputs.iter().enumerate() {
        let shape: TVec<usize> = t.shape().iter().copied().collect();
        model = model.with_input_fact(i, f32::fact(shape).into())?;
    }
    let plan = model.into_optimized()?.into_runnable()?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let feed: TVec<TValue> = inputs
        .values()
        .map(|t| tract_ndarray::ArrayD::from_shape_vec(t.shape(), t.to_f32_vec()).map(|a| Tensor::from(a).into()))
        .collect::<Result<_, _>>()?;
    let t0 = Instant::now();
    plan.run(feed.clone())?;
    let first_run_ms = t0.elapsed().as_secs_f64() * 1e3;
    for _ in 0..warmup {
        plan.run(feed.clone())?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        plan.run(feed.clone())?;
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let report = serde_json::json!({
        "peer": "tract 0.23.9",
        "load_ms": load_ms,
        "first_run_ms": first_run_ms,
        "p50_ms": edgeport_engine::runtime::percentile(&sorted, 50.0),
        "mean_ms": samples.iter().sum::<f64>() / samples.len().max(1) as f64,
        "runs": runs,
    });
    println!("{report}");
    Ok(())
}
