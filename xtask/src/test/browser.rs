//! The `browser` stage: builds the playground with trunk, serves it on a free loopback port from
//! this process (the same server and CSP as `cargo xtask serve`), and runs tests/browser/e2e.mjs
//! in node, which drives the system chromium through playwright-core and checks the downloads
//! against the release CLI's output.

use std::net::TcpListener;
use std::process::Command;
use std::thread;

use anyhow::{Context, Result, bail};

use crate::env::{self, Env};
use crate::serve;
use crate::util::run_status;

pub fn run_test(env: &Env, optimize: bool) -> Result<()> {
    let chromium = env::ensure_chromium()?;
    let npm = env::ensure_playwright(env)?;
    if !env.cli_bin().is_file() {
        bail!("{} is missing (the cli stage builds it)", env.cli_bin().display());
    }
    let site = serve::build_site(env, optimize)?;

    let listener = TcpListener::bind("127.0.0.1:0").context("bind a loopback port")?;
    let port = listener.local_addr()?.port();
    // The server thread ends with this process.
    thread::spawn(move || serve::serve(listener, vec![site]));

    let out = env.repo.join("tests").join("out");
    // The WebGPU step runs the PP-OCR models too, when they can be had.
    let ppocr = out.join("ppocr.json");
    std::fs::create_dir_all(&out)?;
    std::fs::write(&ppocr, crate::det::ppocr_summary(env).map(|v| v.to_string()).unwrap_or_else(|| "{}".into()))?;
    let mut cmd = Command::new("node");
    cmd.arg(env.repo.join("tests").join("browser").join("e2e.mjs"))
        .current_dir(&env.repo)
        .env("EDGEPORT_URL", format!("http://127.0.0.1:{port}/"))
        .env("EDGEPORT_BIN", env.cli_bin())
        .env("EDGEPORT_CHROMIUM", &chromium)
        .env("EDGEPORT_OUT", &out)
        .env("EDGEPORT_NPM", &npm)
        .env("EDGEPORT_PPOCR", &ppocr);
    match run_status(&mut cmd)? {
        Some(0) => Ok(()),
        Some(code) => bail!("tests/browser/e2e.mjs exited with {code}"),
        None => bail!("tests/browser/e2e.mjs was killed by a signal"),
    }
}
