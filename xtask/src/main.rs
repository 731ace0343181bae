//! `cargo xtask`: every automation command of the edgeport workspace.

mod bench;
mod bench_compress;
mod bench_coreml;
mod bench_cpu;
mod bench_gpu;
mod bench_quant;
mod det;
mod env;
mod serve;
mod sim;
mod test;
mod util;
mod wasm;
mod worker;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "edgeport automation: tests, the wasm bundle, the playground, benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Install what is missing, then run every test (Rust, wasm determinism, Python oracles).
    Test(test::TestArgs),
    /// Build the playground page and serve it on http://127.0.0.1:PORT.
    Serve(serve::ServeArgs),
    /// Build the wasm bundle (target/edgeport-web/pkg).
    Wasm(wasm::WasmArgs),
    /// Benchmarks that write BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        which: bench::BenchCmd,
    },
    /// Build the edge worker (worker/dist) and serve it with workerd on http://127.0.0.1:PORT.
    Worker(worker::WorkerArgs),
    /// Fit the latency simulator's calibration factors to published measurements.
    SimCalibrate(sim::CalibrateArgs),
    /// Gzipped sizes of the worker bundle and the web app's wasm against their budgets.
    Size(worker::SizeArgs),
    /// Install the host tools and the test venv, run nothing.
    Setup {
        /// Leave out wasm-opt.
        #[arg(long)]
        no_opt: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Plain message, no backtrace: the stages already printed their own output.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    let env = env::Env::detect()?;
    match &cli.cmd {
        Cmd::Test(args) => test::cmd(&env, args),
        Cmd::Serve(args) => serve::cmd(&env, args),
        Cmd::Wasm(args) => wasm::cmd(&env, args),
        Cmd::Bench { which } => bench::cmd(&env, which),
        Cmd::Worker(args) => worker::cmd(&env, args),
        Cmd::SimCalibrate(args) => sim::calibrate(&env, args),
        Cmd::Size(args) => worker::size_cmd(&env, args),
        Cmd::Setup { no_opt } => {
            env::ensure_wasm_target(&env)?;
            env::ensure_wasm_bindgen(&env)?;
            worker::ensure_npm_tools(&env)?;
            if !no_opt {
                env::ensure_wasm_opt(&env)?;
            }
            if env::requirements_file(&env).is_file() {
                env::ensure_test_venv(&env)?;
            } else {
                eprintln!("  tests/requirements.txt does not exist yet; venv not set up");
            }
            Ok(())
        }
    }
}
