//! `cargo xtask serve`: builds the playground with trunk (static/index.html + the `playground`
//! and `playground-worker` binaries of web/, see trunk.toml) into `target/edgeport-site`, then
//! serves that folder on 127.0.0.1 with a small static HTTP server that sends the page's CSP.
//!
//! trunk runs `--offline` with the pinned wasm-bindgen and wasm-opt first on its PATH, so it never
//! downloads a tool. The worker's wasm (the whole engine) is optimized here instead of by trunk,
//! with a cache keyed by its hash, because wasm-opt takes minutes on it and most rebuilds only
//! touch the page.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::env::{self, Env};
use crate::util::{self, run};
use crate::wasm::WASM_FEATURES;

/// The page's policy: everything from this origin only, no inline script or style, and no
/// connection anywhere else, so a model cannot leave the tab. `wasm-unsafe-eval` lets the page
/// and the worker compile their wasm; `worker-src 'self'` admits the worker's loader script.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
                       connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; \
                       base-uri 'self'; form-action 'none'; frame-ancestors 'none'";

/// trunk names the worker's files after its binary (no content hash), so the page can find them.
const WORKER_WASM: &str = "playground-worker_bg.wasm";
/// The runtime worker's wasm ("Measure in this browser"); loaded on demand, not at page load.
const RUNTIME_WASM: &str = "playground-runtime_bg.wasm";
/// Files of the site that only load when a measurement starts.
const ON_DEMAND_PREFIX: &str = "playground-runtime";

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Serve the last built site without rebuilding.
    #[arg(long)]
    pub no_build: bool,
    /// Skip wasm-opt on the worker's wasm (faster first build, larger download).
    #[arg(long)]
    pub no_opt: bool,
}

pub fn cmd(env: &Env, args: &ServeArgs) -> Result<()> {
    let site = site_dir(env);
    if !args.no_build {
        build_site(env, !args.no_opt)?;
    } else if !site.join("index.html").is_file() {
        bail!("{} has no index.html; run without --no-build first", site.display());
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("bind 127.0.0.1:{}", args.port))?;
    println!("serving {} at http://127.0.0.1:{}/  (Ctrl-C stops)", site.display(), args.port);
    serve(listener, vec![site])
}

/// trunk's dist folder (trunk.toml's `dist`).
pub fn site_dir(env: &Env) -> PathBuf {
    env.target.join("edgeport-site")
}

/// Builds the site with trunk; returns its folder.
pub fn build_site(env: &Env, optimize_worker: bool) -> Result<PathBuf> {
    env::ensure_wasm_target(env)?;
    let bindgen = env::ensure_wasm_bindgen(env)?;
    // trunk.toml pins wasm-opt for the page's (small) wasm, so it is needed even with --no-opt.
    let wasm_opt = env::ensure_wasm_opt(env)?;
    let trunk = env::ensure_trunk(env)?;
    let mut path: Vec<PathBuf> = [&bindgen, &wasm_opt].iter().filter_map(|b| b.parent().map(Path::to_path_buf)).collect();
    path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    let path: OsString = std::env::join_paths(path).context("PATH")?;

    let t = Instant::now();
    run(Command::new(&trunk)
        .current_dir(&env.repo)
        .args(["build", "--offline=true", "--config"])
        .arg(env.repo.join("trunk.toml"))
        .arg("--dist")
        .arg(site_dir(env))
        .env("PATH", path))?;
    eprintln!("  trunk build done ({:.1} s)", t.elapsed().as_secs_f64());
    let site = site_dir(env);
    if !site.join("index.html").is_file() {
        bail!("trunk did not produce {}", site.join("index.html").display());
    }
    if optimize_worker {
        optimize_cached(env, &wasm_opt, &site.join(WORKER_WASM))?;
        optimize_cached(env, &wasm_opt, &site.join(RUNTIME_WASM))?;
    }
    Ok(site)
}

/// Runs wasm-opt -O2 on `wasm` in place, reusing the last result when the input is unchanged
/// (one cache per file name).
fn optimize_cached(env: &Env, wasm_opt: &Path, wasm: &Path) -> Result<()> {
    let key = util::sha256_hex(format!("{}\n-O2 {}", util::sha256_file(wasm)?, WASM_FEATURES.join(" ")).as_bytes());
    let name = wasm.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let cache = env.scratch(&format!("wasm-opt-{name}"));
    let cached = cache.join(format!("{key}.wasm"));
    if !cached.is_file() {
        if cache.exists() {
            fs::remove_dir_all(&cache).with_context(|| format!("remove {}", cache.display()))?;
        }
        fs::create_dir_all(&cache)?;
        let t = Instant::now();
        let partial = cache.join("partial.wasm");
        run(Command::new(wasm_opt).arg("-O2").args(WASM_FEATURES).arg(wasm).arg("-o").arg(&partial))?;
        fs::rename(&partial, &cached)?;
        eprintln!("  wasm-opt -O2 on the worker's wasm ({:.1} s)", t.elapsed().as_secs_f64());
    } else {
        eprintln!("  worker wasm: optimized copy reused ({})", cached.display());
    }
    let (before, after) = (file_len(wasm), file_len(&cached));
    fs::copy(&cached, wasm).with_context(|| format!("copy {}", cached.display()))?;
    eprintln!("  {name}: {before} -> {after} bytes");
    Ok(())
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// The files the page loads when it opens: every wasm, js and css file of the site (the page's
/// app, its start script, the worker, which the app starts at once, and the stylesheet; not the
/// sample model, which loads only on request, nor the runtime worker, which loads with the first
/// measurement).
pub fn initial_download(site: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(site)
        .with_context(|| format!("read {}", site.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wasm" || x == "js" || x == "css"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(ON_DEMAND_PREFIX)))
        .collect();
    files.sort();
    Ok(files)
}

/// Prints the gzipped initial download of the last built site; `None` if it is not built.
pub fn report_initial_download(env: &Env, budget: u64) -> Result<Option<u64>> {
    let site = site_dir(env);
    if !site.join("index.html").is_file() {
        return Ok(None);
    }
    let (mut raw, mut gz) = (0, 0);
    for f in initial_download(&site)? {
        let (r, g) = (file_len(&f), crate::worker::gzip_size(&f)?);
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        println!("  {name:<40} {r:>12} bytes raw {g:>12} bytes gzipped");
        raw += r;
        gz += g;
    }
    let verdict = if gz < budget { "within" } else { "OVER" };
    println!(
        "web app ({}): initial download {:.2} MB raw, {:.2} MB gzipped wasm + js + css ({verdict} the {:.2} MB budget)",
        site.display(),
        raw as f64 / 1e6,
        gz as f64 / 1e6,
        budget as f64 / 1e6
    );
    Ok(Some(gz))
}

pub fn mime_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Serves the first of `roots` that has the requested file, forever, one thread per connection.
pub fn serve(listener: TcpListener, roots: Vec<PathBuf>) -> Result<()> {
    let roots = Arc::new(roots);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let roots = Arc::clone(&roots);
        thread::spawn(move || {
            if let Err(e) = handle(stream, &roots) {
                eprintln!("  connection error: {e:#}");
            }
        });
    }
    Ok(())
}

/// Maps a request target to a file below `root`, refusing anything that climbs out of it.
pub fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path)?;
    if !decoded.starts_with('/') {
        return None;
    }
    let mut out = root.to_path_buf();
    for comp in Path::new(&decoded).components() {
        match comp {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(c) => out.push(c),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    if text.contains('\0') { None } else { Some(text) }
}

fn handle(mut stream: TcpStream, roots: &[PathBuf]) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(64 * 1024));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers; nothing in them changes the answer.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head = method == "HEAD";
    if method != "GET" && !head {
        return respond(&mut stream, 405, "text/plain; charset=utf-8", b"method not allowed\n", head, &[("Allow", "GET, HEAD")]);
    }
    let file = roots.iter().find_map(|root| resolve(root, target).filter(|p| p.is_file()));
    let Some(file) = file else {
        eprintln!("  {method} {target} -> 404");
        return respond(&mut stream, 404, "text/plain; charset=utf-8", b"not found\n", head, &[]);
    };
    let body = fs::read(&file)?;
    eprintln!("  {method} {target} -> 200 ({} bytes)", body.len());
    respond(&mut stream, 200, mime_type(&file), &body, head, &[])
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head: bool,
    extra: &[(&str, &str)],
) -> Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let mut h = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {CSP}\r\nCross-Origin-Opener-Policy: same-origin\r\n\
         X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    stream.write_all(h.as_bytes())?;
    if !head {
        stream.write_all(body)?;
    }
    stream.flush()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_root_only() {
        let root = std::env::temp_dir().join("xtask-serve-test-root");
        let _ = fs::create_dir_all(&root);
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/pkg/a.wasm?v=1"), Some(root.join("pkg/a.wasm")));
        assert_eq!(resolve(&root, "/a%20b.js"), Some(root.join("a b.js")));
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(&root, "/a%00"), None);
        assert_eq!(resolve(&root, "http://x/"), None);
    }

    #[test]
    fn wasm_mime() {
        assert_eq!(mime_type(Path::new("pkg/edgeport_web_bg.wasm")), "application/wasm");
        assert_eq!(mime_type(Path::new("app.js")), "text/javascript; charset=utf-8");
    }

    #[test]
    fn serves_files_with_headers() {
        let root = std::env::temp_dir().join(format!("xtask-serve-test-{}", std::process::id()));
        let (first, second) = (root.join("a"), root.join("b"));
        fs::create_dir_all(&first).unwrap();
        fs::create_dir_all(second.join("pkg")).unwrap();
        fs::write(first.join("index.html"), "<p>hi</p>").unwrap();
        fs::write(second.join("index.html"), "<p>stale</p>").unwrap();
        fs::write(second.join("pkg").join("m.wasm"), b"\0asm").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || serve(listener, vec![first, second]));
        let get = |path: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let ok = get("/");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Security-Policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'"));
        assert!(ok.contains("Cross-Origin-Opener-Policy: same-origin"));
        assert!(ok.contains("connect-src 'self';") && ok.contains("worker-src 'self';"), "{ok}");
        assert!(ok.ends_with("<p>hi</p>"));
        let wasm = get("/pkg/m.wasm");
        assert!(wasm.contains("Content-Type: application/wasm\r\n"), "{wasm}");
        assert!(get("/missing.js").starts_with("HTTP/1.1 404"));
        let _ = fs::remove_dir_all(&root);
    }
}
