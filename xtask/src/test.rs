//! `cargo xtask test`: install what is missing, then run every test suite in order.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use crate::det;
use crate::env::{self, Env};
use crate::util::{run, run_status};
use crate::wasm;
use crate::worker;

mod browser;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// cargo test --workspace --all-targets
    Rust,
    /// the wasm bundle and the wasm/native determinism test
    Wasm,
    /// the Python oracle tests (onnxruntime, LiteRT) against the release CLI
    Oracles,
    /// the edge worker under workerd on loopback (tests/worker)
    Worker,
    /// the playground in headless chromium (tests/browser)
    Browser,
}

#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Run only these parts (comma separated); default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// Skip the wasm bundle and the determinism test.
    #[arg(long)]
    pub skip_wasm: bool,
    /// Skip the Python oracle tests.
    #[arg(long)]
    pub skip_oracles: bool,
    /// Skip the edge worker test (workerd on loopback).
    #[arg(long)]
    pub skip_worker: bool,
    /// Skip the playground's browser test (headless chromium).
    #[arg(long)]
    pub skip_browser: bool,
    /// Stop at the first failing stage.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run wasm-opt on the bundle (and on the playground worker's wasm), as `serve` does
    /// (slower: about 2.5 min on 2 cores the first time).
    #[arg(long)]
    pub opt: bool,
    /// Leave the PP-OCR models out of the determinism test.
    #[arg(long)]
    pub no_ppocr: bool,
}

impl TestArgs {
    fn wants(&self, p: Part) -> bool {
        let skipped = match p {
            Part::Wasm => self.skip_wasm,
            Part::Oracles => self.skip_oracles,
            Part::Worker => self.skip_worker,
            Part::Browser => self.skip_browser,
            Part::Rust => false,
        };
        !skipped && (self.only.is_empty() || self.only.contains(&p))
    }
}

enum Verdict {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Outcome {
    name: &'static str,
    verdict: Verdict,
    secs: f64,
}

struct Runner {
    outcomes: Vec<Outcome>,
    fail_fast: bool,
    total: usize,
}

impl Runner {
    fn failed(&self, name: &str) -> bool {
        self.outcomes.iter().any(|o| o.name == name && matches!(o.verdict, Verdict::Failed(_)))
    }

    fn stop(&self) -> bool {
        self.fail_fast && self.outcomes.iter().any(|o| matches!(o.verdict, Verdict::Failed(_)))
    }

    fn skip(&mut self, name: &'static str, why: impl Into<String>) {
        let why = why.into();
        println!("==> [{}/{}] {name}: skipped ({why})", self.outcomes.len() + 1, self.total);
        self.outcomes.push(Outcome { name, verdict: Verdict::Skipped(why), secs: 0.0 });
    }

    /// Runs one stage; `Ok(Some(reason))` from the closure means it found nothing to test.
    fn stage(&mut self, name: &'static str, what: &str, f: impl FnOnce() -> Result<Option<String>>) {
        println!("==> [{}/{}] {name}: {what}", self.outcomes.len() + 1, self.total);
        let t = Instant::now();
        let verdict = match f() {
            Ok(None) => Verdict::Passed,
            Ok(Some(why)) => Verdict::Skipped(why),
            Err(e) => {
                eprintln!("  {name} failed: {e:#}");
                Verdict::Failed(format!("{e:#}"))
            }
        };
        self.outcomes.push(Outcome { name, verdict, secs: t.elapsed().as_secs_f64() });
    }
}

pub fn cmd(env: &Env, args: &TestArgs) -> Result<()> {
    let (rust, wasm_part, oracles) = (args.wants(Part::Rust), args.wants(Part::Wasm), args.wants(Part::Oracles));
    let worker_part = args.wants(Part::Worker);
    let browser_part = args.wants(Part::Browser);
    let mut r = Runner { outcomes: Vec::new(), fail_fast: args.fail_fast, total: 8 };
    let started = Instant::now();

    // a, b) host tools for the wasm bundle.
    if wasm_part {
        r.stage("tools", "wasm target, wasm-bindgen-cli (and wasm-opt with --opt)", || {
            env::ensure_wasm_target(env)?;
            env::ensure_wasm_bindgen(env)?;
            if args.opt {
                env::ensure_wasm_opt(env)?;
            }
            Ok(None)
        });
    } else {
        r.skip("tools", "wasm part not selected");
    }

    // c) the Python venv (the oracles need it; the determinism test uses it to fetch PP-OCR).
    let req = env::requirements_file(env);
    if (oracles || worker_part || (wasm_part && !args.no_ppocr)) && !r.stop() {
        if req.is_file() {
            r.stage("venv", ".venv from tests/requirements.txt", || env::ensure_test_venv(env).map(|_| None));
        } else {
            r.skip("venv", "tests/requirements.txt does not exist");
        }
    } else {
        r.skip("venv", "not needed");
    }

    // d) every Rust test, natively. The GPU runtime's tests run on lavapipe (Vulkan on the
    // CPU), installed first; with it a missing adapter is a failure, not a skip.
    if rust && !r.stop() {
        r.stage("rust", "cargo test --workspace --all-targets", || {
            env::ensure_lavapipe()?;
            run(env.cargo().args(["test", "--workspace", "--all-targets"]).env("EDGEPORT_REQUIRE_GPU", "1"))?;
            Ok(None)
        });
    } else {
        r.skip("rust", if rust { "stopped early" } else { "not selected" });
    }

    // e) the release CLI, needed by the determinism, worker, browser and oracle tests.
    if (wasm_part || oracles || worker_part || browser_part) && !r.stop() {
        r.stage("cli", "cargo build --release -p edgeport-cli", || {
            run(env.cargo().args(["build", "--release", "-p", "edgeport-cli"]))?;
            if !env.cli_bin().is_file() {
                bail!("{} was not produced", env.cli_bin().display());
            }
            Ok(None)
        });
    } else {
        r.skip("cli", "not needed");
    }

    // f) wasm bundle + determinism against the native CLI.
    if !wasm_part || r.stop() {
        r.skip("wasm", if wasm_part { "stopped early" } else { "not selected" });
    } else if r.failed("tools") || r.failed("cli") {
        r.skip("wasm", "a stage it needs failed");
    } else {
        let with_ppocr = !args.no_ppocr && !r.failed("venv");
        r.stage("wasm", "wasm bundle, then wasm vs native determinism", || {
            let bundle = wasm::build(env, args.opt)?;
            det::run_test(env, &bundle, with_ppocr)?;
            Ok(None)
        });
    }

    // g) the edge worker under workerd: its answers against the CLI's, errors, a burst.
    if !worker_part || r.stop() {
        r.skip("worker", if worker_part { "stopped early" } else { "not selected" });
    } else if r.failed("venv") || r.failed("cli") || !env.venv_python().is_file() {
        r.skip("worker", "the venv or the CLI is missing");
    } else {
        r.stage("worker", "worker bundle, workerd on loopback, tests/worker", || {
            worker::run_test(env, args.opt)?;
            Ok(None)
        });
    }

    // h) the playground in headless chromium: uploads, conversions against the CLI's bytes,
    // bad files, cancel, privacy (no request carries the model), CSP, screenshots.
    if !browser_part || r.stop() {
        r.skip("browser", if browser_part { "stopped early" } else { "not selected" });
    } else if r.failed("cli") {
        r.skip("browser", "the CLI is missing");
    } else {
        r.stage("browser", "trunk site, headless chromium, tests/browser", || {
            browser::run_test(env, args.opt)?;
            Ok(None)
        });
    }

    // i) the Python oracle tests.
    if !oracles || r.stop() {
        r.skip("oracles", if oracles { "stopped early" } else { "not selected" });
    } else if !env.repo.join("tests").join("oracles").is_dir() {
        r.skip("oracles", "tests/oracles does not exist");
    } else if r.failed("venv") || r.failed("cli") || !env.venv_python().is_file() {
        r.skip("oracles", "the venv or the CLI is missing");
    } else {
        r.stage("oracles", "pytest tests/oracles", || {
            // The GPU runtime's conformance runs on lavapipe; with it installed a missing
            // adapter is a failure, not a skip.
            env::ensure_lavapipe()?;
            let mut cmd = Command::new(env.venv_python());
            cmd.args(["-m", "pytest", "tests/oracles", "-q"])
                .current_dir(&env.repo)
                .env("EDGEPORT_BIN", env.cli_bin())
                .env("EDGEPORT_CACHE", &env.cache)
                .env("EDGEPORT_REQUIRE_GPU", "1");
            match run_status(&mut cmd)? {
                Some(0) => Ok(None),
                Some(5) => Ok(Some("pytest collected no tests".into())),
                Some(code) => bail!("pytest exited with {code}"),
                None => bail!("pytest was killed by a signal"),
            }
        });
    }

    println!();
    println!("summary ({:.0} s in all):", started.elapsed().as_secs_f64());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for o in &r.outcomes {
        match &o.verdict {
            Verdict::Passed => {
                passed += 1;
                println!("  {:<8} passed   {:>7.1} s", o.name, o.secs);
            }
            Verdict::Failed(why) => {
                failed += 1;
                let first = why.lines().next().unwrap_or("");
                println!("  {:<8} FAILED   {:>7.1} s  {first}", o.name, o.secs);
            }
            Verdict::Skipped(why) => {
                skipped += 1;
                println!("  {:<8} skipped  {:>7.1} s  {why}", o.name, o.secs);
            }
        }
    }
    println!("stages: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        bail!("{failed} stage(s) failed");
    }
    Ok(())
}
