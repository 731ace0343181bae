//! `cargo xtask wasm`: the wasm bindings bundle (edgeport-web's library compiled to wasm, bound with wasm-bindgen
//! `--target web`, optionally shrunk with wasm-opt). Used by the determinism test; the playground is built by
//! trunk (`serve`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::env::{self, Env, WASM_BINDGEN_VERSION, WASM_TARGET};
use crate::util::{self, run};

pub const CRATE: &str = "edgeport-web";
const STEM: &str = "edgeport_web";

/// Features the Rust wasm32 target emits by default (plus simd128 from .cargo/config.toml);
/// wasm-opt is told about them so it neither rejects nor strips them.
pub const WASM_FEATURES: &[&str] = &[
    "--enable-simd",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

#[derive(Args, Debug, Clone)]
pub struct WasmArgs {
    /// Skip wasm-opt (faster build, larger file; binaryen is then not installed).
    #[arg(long)]
    pub no_opt: bool,
    /// Also copy the bundle here.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
}

pub struct Bundle {
    /// Folder with `edgeport_web.js`, `edgeport_web_bg.wasm` and typings.
    pub dir: PathBuf,
    pub js: PathBuf,
    pub wasm: PathBuf,
}

pub fn cmd(env: &Env, args: &WasmArgs) -> Result<()> {
    let bundle = build(env, !args.no_opt)?;
    if let Some(out) = &args.out_dir {
        util::copy_dir(&bundle.dir, out)?;
        println!("{}", out.display());
    } else {
        println!("{}", bundle.dir.display());
    }
    Ok(())
}

/// Builds the bundle; wasm-bindgen and wasm-opt are skipped when the compiled wasm is unchanged.
pub fn build(env: &Env, optimize: bool) -> Result<Bundle> {
    env::ensure_wasm_target(env)?;
    let bindgen = env::ensure_wasm_bindgen(env)?;
    let wasm_opt = if optimize { Some(env::ensure_wasm_opt(env)?) } else { None };

    let t = Instant::now();
    // Only the library (with its default `bindings` feature): the playground's binaries are trunk's.
    run(env.cargo().args(["build", "--release", "--target", WASM_TARGET, "-p", CRATE, "--lib"]))?;
    let input = env.target.join(WASM_TARGET).join("release").join(format!("{STEM}.wasm"));
    if !input.is_file() {
        bail!("cargo did not produce {}", input.display());
    }
    eprintln!("  compiled {} ({:.1} s)", input.display(), t.elapsed().as_secs_f64());

    let dir = env.target.join(CRATE).join(if optimize { "pkg" } else { "pkg-noopt" });
    let bundle = Bundle {
        js: dir.join(format!("{STEM}.js")),
        wasm: dir.join(format!("{STEM}_bg.wasm")),
        dir: dir.clone(),
    };
    let stamp_path = dir.join(".xtask-stamp");
    let stamp = format!(
        "input {}\nwasm-bindgen {WASM_BINDGEN_VERSION}\nwasm-opt {}\n",
        util::sha256_file(&input)?,
        if optimize { format!("-O2 {}", WASM_FEATURES.join(" ")) } else { "none".into() },
    );
    if bundle.js.is_file() && bundle.wasm.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        eprintln!("  bundle {} is up to date", dir.display());
        return Ok(bundle);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    let t = Instant::now();
    run(Command::new(&bindgen).args(["--target", "web", "--out-dir"]).arg(&dir).arg(&input))?;
    eprintln!("  wasm-bindgen done ({:.1} s)", t.elapsed().as_secs_f64());
    if let Some(wasm_opt) = wasm_opt {
        let t = Instant::now();
        let before = file_len(&bundle.wasm);
        run(Command::new(&wasm_opt)
            .arg("-O2")
            .args(WASM_FEATURES)
            .arg(&bundle.wasm)
            .arg("-o")
            .arg(&bundle.wasm))?;
        eprintln!(
            "  wasm-opt -O2: {} -> {} bytes ({:.1} s)",
            before,
            file_len(&bundle.wasm),
            t.elapsed().as_secs_f64()
        );
    }
    fs::write(&stamp_path, stamp)?;
    Ok(bundle)
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
