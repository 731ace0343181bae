//! `cargo xtask serve`: builds the playground (static/ + the wasm bundle + the sample model) into
//! one folder and serves it on 127.0.0.1 with a small static HTTP server.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::env::Env;
use crate::util;
use crate::wasm;

/// The fixture offered by the page's "Try the sample model" button, and the fallback order.
const SAMPLE_FIXTURE: &str = "mobilenetv2";

pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; \
                       img-src 'self' data: blob:; style-src 'self'";

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Serve the last built site without rebuilding.
    #[arg(long)]
    pub no_build: bool,
    /// Skip wasm-opt when building.
    #[arg(long)]
    pub no_opt: bool,
}

pub fn cmd(env: &Env, args: &ServeArgs) -> Result<()> {
    let site = site_dir(env);
    if !args.no_build {
        let bundle = wasm::build(env, !args.no_opt)?;
        assemble_site(env, &bundle, &site)?;
    } else if !site.join("index.html").is_file() {
        bail!("{} has no index.html; run without --no-build first", site.display());
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("bind 127.0.0.1:{}", args.port))?;
    // static/ first, so edits to the page show on reload without a rebuild; the built site
    // supplies pkg/ and the sample.
    let roots = vec![env.repo.join("static"), site];
    println!("serving static/ and {} at http://127.0.0.1:{}/  (Ctrl-C stops)", roots[1].display(), args.port);
    serve(listener, roots)
}

pub fn site_dir(env: &Env) -> PathBuf {
    env.target.join("edgeport-site")
}

/// static/ + pkg/ (the bundle) + sample.onnx and sample.json (which fixture it is).
pub fn assemble_site(env: &Env, bundle: &wasm::Bundle, site: &Path) -> Result<()> {
    if site.exists() {
        fs::remove_dir_all(site).with_context(|| format!("remove {}", site.display()))?;
    }
    util::copy_dir(&env.repo.join("static"), site)?;
    let pkg = site.join("pkg");
    fs::create_dir_all(&pkg)?;
    for name in ["edgeport_web.js", "edgeport_web_bg.wasm"] {
        fs::copy(bundle.dir.join(name), pkg.join(name)).with_context(|| format!("copy {name}"))?;
    }
    let fixtures = util::fixture_models(&env.repo)?;
    let sample = fixtures
        .iter()
        .find(|(name, _)| name == SAMPLE_FIXTURE)
        .or_else(|| fixtures.first());
    match sample {
        Some((name, path)) => {
            fs::copy(path, site.join("sample.onnx"))?;
            let meta = serde_json::json!({ "name": name, "file": "sample.onnx", "bytes": fs::metadata(path)?.len() });
            fs::write(site.join("sample.json"), serde_json::to_string_pretty(&meta)?)?;
            eprintln!("  sample model: tests/fixtures/{name}/model.onnx");
        }
        None => eprintln!("  warning: no tests/fixtures/*/model.onnx, the sample button will report that"),
    }
    Ok(())
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
        assert!(ok.ends_with("<p>hi</p>"));
        let wasm = get("/pkg/m.wasm");
        assert!(wasm.contains("Content-Type: application/wasm\r\n"), "{wasm}");
        assert!(get("/missing.js").starts_with("HTTP/1.1 404"));
        let _ = fs::remove_dir_all(&root);
    }
}
