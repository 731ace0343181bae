//! Fits the simulator's calibration factors to published latencies and prints how well the
//! simulator then predicts them: in-sample, and leaving each device out. Run through
//! `cargo xtask sim-calibrate`.
//!
//! Usage: edgeport-sim-calibrate --csv PUBLISHED.csv [--write calibration.toml] [--rows]

use std::collections::BTreeMap;
use std::process::ExitCode;

use edgeport_sim::calibrate::{self, Problem, Score};
use edgeport_sim::profile;

struct Args {
    csv: String,
    write: Option<String>,
    rows: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut csv = None;
    let mut write = None;
    let mut rows = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--csv" => csv = it.next(),
            "--write" => write = it.next(),
            "--rows" => rows = true,
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Args { csv: csv.ok_or("--csv PATH is required")?, write, rows })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let text = std::fs::read_to_string(&args.csv).map_err(|e| format!("{}: {e}", args.csv))?;
    let published = calibrate::read_published(&text).map_err(|e| e.to_string())?;
    let profiles = profile::all().map_err(|e| e.to_string())?;
    let (cases, skipped) = calibrate::cases(&published, &profiles);
    println!("{} published rows: {} simulated, {} skipped", published.len(), cases.len(), skipped.len());
    for (row, why) in &skipped {
        println!("  skipped: {} / {} / {} ({why})", row.device, row.model, row.variant);
    }
    let problem = Problem::new(&cases, &profiles);
    let all: Vec<usize> = (0..cases.len()).collect();
    let cal = calibrate::fit(&problem, &all);
    let fitted = calibrate::predictions(&problem, &cal);
    let held_out = calibrate::leave_one_device_out(&problem);
    let held_row = calibrate::leave_one_row_out(&problem, &cal);

    let pairs = |preds: &[(usize, Option<f64>)], dev: Option<&str>| -> Vec<(f64, f64)> {
        preds
            .iter()
            .filter(|(i, _)| dev.is_none_or(|d| cases[*i].profile == d))
            .filter_map(|(i, p)| p.map(|p| (p, cases[*i].row.latency_ms)))
            .collect()
    };
    let line = |name: &str, fit: Score, row: Score, held: Score| {
        println!(
            "| {name:<24} | {:>4} | {:>6.3} | {:>5.0} % | {:>6.3} | {:>5.0} % | {:>6.3} | {:>5.0} % |",
            fit.rows,
            fit.median_abs_log,
            fit.within_2x * 100.0,
            row.median_abs_log,
            row.within_2x * 100.0,
            held.median_abs_log,
            held.within_2x * 100.0
        );
    };
    println!();
    println!(
        "| device                   | rows | fitted: median abs ln | within 2x | row left out: median abs ln | within 2x | device left out: median abs ln | within 2x |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let devices: BTreeMap<&str, ()> = cases.iter().map(|c| (c.profile.as_str(), ())).collect();
    for dev in devices.keys() {
        line(
            dev,
            calibrate::score(&pairs(&fitted, Some(dev))),
            calibrate::score(&pairs(&held_row, Some(dev))),
            calibrate::score(&pairs(&held_out, Some(dev))),
        );
    }
    let overall = calibrate::score(&pairs(&fitted, None));
    let overall_row = calibrate::score(&pairs(&held_row, None));
    let overall_held = calibrate::score(&pairs(&held_out, None));
    line("overall", overall, overall_row, overall_held);

    if args.rows {
        println!();
        for (i, p) in &fitted {
            let c = &cases[*i];
            let held = held_out.iter().find(|(j, _)| j == i).and_then(|(_, p)| *p);
            let row_out = held_row.iter().find(|(j, _)| j == i).and_then(|(_, p)| *p);
            println!(
                "{:<22} {:<14} {:<34} measured {:>8.3} ms  fitted {:>8.3}  row left out {:>8.3}  device left out {:>8.3}",
                c.profile,
                c.workload,
                c.row.variant.chars().take(34).collect::<String>(),
                c.row.latency_ms,
                p.unwrap_or(f64::NAN),
                row_out.unwrap_or(f64::NAN),
                held.unwrap_or(f64::NAN)
            );
        }
    }
    if let Some(path) = &args.write {
        let header = format!(
            "Throughput factors of the latency simulator, fitted by `cargo xtask sim-calibrate` to\n\
             crates/edgeport-sim/data/published_latency_calibration.csv ({} of {} rows simulated).\n\
             Fitted: median |ln(predicted/measured)| {:.3}, {:.0} % within 2x.\n\
             Each row left out of the fit: median {:.3}, {:.0} % within 2x.\n\
             Each device left out of the fit: median {:.3}, {:.0} % within 2x.\n\
             kind: per (unit, executed precision), shared by every device.\n\
             device: per (profile, unit), relative to kind; ridge-shrunk towards 1.\n\
             class: per (unit, op group) efficiency; overhead: per unit, fixed costs; both shrunk towards 1.",
            cases.len(),
            published.len(),
            overall.median_abs_log,
            overall.within_2x * 100.0,
            overall_row.median_abs_log,
            overall_row.within_2x * 100.0,
            overall_held.median_abs_log,
            overall_held.within_2x * 100.0
        );
        let text = cal.to_toml(&header).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
        println!("\nwrote {path}");
    }
    Ok(())
}
