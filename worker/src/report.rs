//! The run report (schema `edgeport.report/1`) of `/v1/convert` and `/v1/simulate`: every 200
//! carries its share-link payload in the `edgeport-report` header, so a CI job can post a
//! playground link (`<playground>#r=<payload>`) without a second call; `/v1/convert` with
//! `accept: multipart/mixed` also returns the report in full, next to the artifact.
//!
//! With `fidelity=1` the report also carries the fidelity of a lossy variant (fp16, int8, int8
//! weights, palettes, a Core ML fp16 program), measured on the CPU runtime on generated
//! samples: per output errors, SQNR and agreement, and the SQNR of every layer.

use edgeport_engine::report::{self, Report};
use edgeport_engine::simulate::SimulationReport;
use edgeport_engine::{Artifact, ConvertOptions, EngineError, ErrorCode};

/// The response header that holds the share-link payload.
pub const HEADER: &str = "edgeport-report";
/// The model's name in the report when the query gives none (what the CLI calls a model read
/// from `model.onnx`).
pub const DEFAULT_NAME: &str = "model.onnx";
/// Longest `name` accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The `name` query parameter: it ends up in reports and pages, so it must be short, non-empty
/// and free of control characters (a newline in it could forge lines wherever it is printed).
pub fn check_name(name: &str) -> Result<(), EngineError> {
    let why = if name.is_empty() {
        "is empty"
    } else if name.chars().count() > MAX_NAME_CHARS {
        "is too long"
    } else if name.chars().any(char::is_control) {
        "holds a control character"
    } else {
        return Ok(());
    };
    Err(EngineError::options(format!(
        "query parameter 'name' {why} (the model's file name: 1 to {MAX_NAME_CHARS} characters, no control characters)"
    )))
}

/// The report of a conversion (fidelity is added by the caller when asked for).
pub fn of_conversion(name: &str, model: &[u8], opts: &ConvertOptions, artifact: &Artifact) -> Report {
    let mut r = report::new(name, model);
    report::add_conversion(&mut r, opts, artifact);
    r
}

/// The report of a simulation and the import options (input shapes) it ran with.
pub fn of_simulation(name: &str, model: &[u8], import: &ConvertOptions, simulation: SimulationReport) -> Report {
    let mut r = report::new(name, model);
    report::add_simulation(&mut r, import, simulation);
    r
}

/// The share-link payload (what follows `#r=`), made as the CLI's `--link` makes it: without
/// per-layer placement, which the playground recomputes and which would make the header long.
pub fn link(mut report: Report) -> Result<String, EngineError> {
    if let Some(s) = &mut report.simulation {
        s.report.results.iter_mut().for_each(|r| r.placement.clear());
    }
    report::link::encode(&report).map_err(|e| EngineError::new(ErrorCode::Internal, format!("share link: {e}")))
}

/// Whether the `accept` header asks for `multipart/mixed` (with a quality above zero). Any
/// other header, `*/*` included, keeps the plain artifact that existing clients expect.
pub fn wants_multipart(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("multipart/mixed") && !parts.any(refuses)
    })
}

/// A media-range parameter `q=0` (or `q=0.000`): "not acceptable".
fn refuses(param: &str) -> bool {
    let Some((key, value)) = param.split_once('=') else { return false };
    key.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
}

/// A `multipart/mixed` body (RFC 2046): the run report as `application/json`, then the artifact
/// with its media type and `content-disposition`. Returns the content-type and the body.
pub fn multipart(report_json: &[u8], artifact: &Artifact) -> (String, Vec<u8>) {
    let boundary = boundary(&artifact.sha256, &[report_json, &artifact.bytes]);
    let mut body = Vec::with_capacity(report_json.len() + artifact.bytes.len() + 512);
    let mut part = |headers: &[(&str, &str)], content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        for (name, value) in headers {
            body.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(&[("content-type", "application/json")], report_json);
    let disposition = crate::api::content_disposition(&artifact.file_name);
    part(&[("content-type", &artifact.media_type), ("content-disposition", &disposition)], &artifact.bytes);
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/mixed; boundary={boundary}"), body)
}

/// A boundary that is the same for the same artifact (so identical requests get identical
/// bytes) and occurs in no part: `edgeport-` and half the artifact's sha256, with a counter
/// appended in the unlikely case a part holds it. At most 70 characters (RFC 2046), all of
/// them safe unquoted in the header.
fn boundary(sha256: &str, parts: &[&[u8]]) -> String {
    let half: String = sha256.chars().filter(char::is_ascii_alphanumeric).take(32).collect();
    let stem = format!("edgeport-{half}");
    let free = |b: &str| !parts.iter().any(|p| contains(p, b.as_bytes()));
    if free(&stem) {
        return stem;
    }
    // Each candidate is new, and the parts are finite, so one is free long before the end.
    (1..=u32::MAX).map(|n| format!("{stem}-{n}")).find(|b| free(b)).unwrap_or(stem)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    haystack
        .iter()
        .enumerate()
        .any(|(i, &b)| b == first && haystack.get(i + 1..i + 1 + rest.len()) == Some(rest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn artifact(bytes: &[u8]) -> Artifact {
        Artifact {
            bytes: bytes.to_vec(),
            file_name: "net.tflite".into(),
            media_type: "application/vnd.tflite".into(),
            sha256: edgeport_engine::sha256_hex(bytes),
            size: bytes.len(),
            directory: None,
        }
    }

    #[test]
    fn names() {
        for ok in ["model.onnx", "m", "mödel (1).onnx", &"x".repeat(MAX_NAME_CHARS), &"é".repeat(MAX_NAME_CHARS)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a\nb", "a\rb", "tab\there", "\u{7f}", "nul\0", &"x".repeat(MAX_NAME_CHARS + 1)] {
            let e = check_name(bad).unwrap_err();
            assert!(e.to_string().contains("'name'"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn accept() {
        for yes in ["multipart/mixed", "Multipart/Mixed", "text/plain, multipart/mixed;q=0.5", " multipart/mixed ; q=1"] {
            assert!(wants_multipart(Some(yes)), "{yes}");
        }
        for no in ["", "*/*", "multipart/*", "application/vnd.tflite", "multipart/mixed;q=0", "multipart/mixed; q=0.000"] {
            assert!(!wants_multipart(Some(no)), "{no}");
        }
        assert!(!wants_multipart(Some("multipart/form-data")) && !wants_multipart(None));
    }

    #[test]
    fn multipart_parts_and_boundary() {
        let a = artifact(b"\x00\x01binary\r\n--not-the-boundary\r\n\xff");
        let (ct, body) = multipart(b"{\"schema\":\"edgeport.report/1\"}", &a);
        let boundary = ct.strip_prefix("multipart/mixed; boundary=").unwrap();
        assert!(boundary.len() <= 70 && boundary.starts_with("edgeport-"), "{boundary}");
        assert_eq!(multipart(b"{\"schema\":\"edgeport.report/1\"}", &a), (ct.clone(), body.clone()), "deterministic");
        let text = String::from_utf8_lossy(&body);
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "preamble, two parts, epilogue: {text}");
        assert_eq!(parts[0], "");
        assert_eq!(parts[1], "\r\ncontent-type: application/json\r\n\r\n{\"schema\":\"edgeport.report/1\"}\r\n");
        assert!(parts[2].starts_with(
            "\r\ncontent-type: application/vnd.tflite\r\ncontent-disposition: attachment; filename=\"net.tflite\"\r\n\r\n"
        ));
        assert_eq!(parts[3], "--\r\n");
        let start = body.windows(4).position(|w| w == b"\x00\x01bi").unwrap();
        assert_eq!(&body[start..start + a.bytes.len()], a.bytes.as_slice());
    }

    #[test]
    fn the_boundary_avoids_the_parts() {
        let a = artifact(b"payload");
        let stem = boundary(&a.sha256, &[]);
        assert_eq!(stem, format!("edgeport-{}", &a.sha256[..32]));
        // A part that holds the stem and its first alternative pushes the boundary further.
        let tricky = format!("x{stem}-1 y{stem}");
        assert_eq!(boundary(&a.sha256, &[b"{}", tricky.as_bytes()]), format!("{stem}-2"));
        assert!(contains(b"abc", b"bc") && !contains(b"abc", b"cd") && !contains(b"", b"a"));
    }

    /// The handlers, natively: the header decodes to the report the engine's steps make.
    #[test]
    fn served_reports() {
        use crate::api::{Limits, RequestHead, serve_accepting};
        use futures_util::FutureExt;
        let model = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/mlp_gelu/model.onnx")).unwrap();
        let serve = |path: &str, query: &str, accept: Option<&str>| {
            let head = RequestHead {
                method: "POST".into(),
                path: path.into(),
                query: query.into(),
                content_type: Some("application/octet-stream".into()),
                content_length: None,
            };
            let body = futures_util::stream::iter([Ok::<_, String>(model.clone())]);
            serve_accepting(&head, accept, body, &Limits::default()).now_or_never().unwrap()
        };
        let decode = |r: &crate::api::Reply| -> Report { report::link::decode(r.header(HEADER).unwrap()).unwrap() };

        let plain = serve("/v1/convert", "to=tflite&name=net.onnx", None);
        assert_eq!(plain.status, 200);
        let r = decode(&plain);
        assert_eq!((r.model.name.as_str(), r.model.sha256.clone()), ("net.onnx", edgeport_engine::sha256_hex(&model)));
        let conversion = r.conversion.as_ref().unwrap();
        assert_eq!(Some(conversion.sha256.as_str()), plain.header("x-edgeport-sha256"));
        assert_eq!(conversion.size, plain.body.len());
        assert!(r.fidelity.is_empty() && r.simulation.is_none());

        let mixed = serve("/v1/convert", "to=tflite&name=net.onnx", Some("multipart/mixed"));
        assert!(mixed.header("content-type").unwrap().starts_with("multipart/mixed; boundary=edgeport-"));
        assert_eq!(mixed.header(HEADER), plain.header(HEADER));
        assert!(contains(&mixed.body, &serde_json::to_vec_pretty(&r).unwrap()) && contains(&mixed.body, &plain.body));

        let sim = serve("/v1/simulate", "profile=pixel8&placement=1", None);
        assert_eq!(sim.status, 200);
        let r = decode(&sim);
        assert_eq!(r.model.name, DEFAULT_NAME);
        let mut body: serde_json::Value = serde_json::from_slice(&sim.body).unwrap();
        let results = body["results"].as_array_mut().unwrap();
        assert!(results.iter().any(|x| !x["placement"].as_array().unwrap().is_empty()), "placement=1 keeps it in the body");
        results.iter_mut().for_each(|x| x["placement"] = serde_json::json!([]));
        assert_eq!(serde_json::to_value(&r.simulation.unwrap().report).unwrap(), body);

        for (path, query) in [("/v1/convert", "to=tflite&name="), ("/v1/simulate", "name=a%0Ab"), ("/v1/inspect", "name=x")] {
            let r = serve(path, query, None);
            assert_eq!(r.status, 400, "{path}?{query}");
            assert!(String::from_utf8_lossy(&r.body).contains("'name'"), "{path}?{query}");
        }
    }
}
