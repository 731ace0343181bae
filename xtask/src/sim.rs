//! `cargo xtask sim-calibrate`: fits the latency simulator's factors to the published
//! measurements in crates/edgeport-sim/data/ and prints how well it then predicts them.

use anyhow::Result;
use clap::Args;

use crate::env::Env;
use crate::util::run;

const CSV: &str = "crates/edgeport-sim/data/published_latency_calibration.csv";
const CALIBRATION: &str = "crates/edgeport-sim/calibration.toml";

#[derive(Args, Debug, Clone)]
pub struct CalibrateArgs {
    /// Only print the fit; leave crates/edgeport-sim/calibration.toml as it is.
    #[arg(long)]
    pub dry_run: bool,
    /// Also print every row: measured, fitted and held-out predictions.
    #[arg(long)]
    pub rows: bool,
}

pub fn calibrate(env: &Env, args: &CalibrateArgs) -> Result<()> {
    let mut cmd = env.cargo();
    cmd.args(["run", "--release", "-q", "-p", "edgeport-sim", "--features", "calibrate", "--bin", "edgeport-sim-calibrate", "--"]);
    cmd.arg("--csv").arg(env.repo.join(CSV));
    if !args.dry_run {
        cmd.arg("--write").arg(env.repo.join(CALIBRATION));
    }
    if args.rows {
        cmd.arg("--rows");
    }
    run(&mut cmd)
}
