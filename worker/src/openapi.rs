//! The OpenAPI 3.1 document served at `GET /v1/openapi.json`: the committed file
//! `worker/openapi.json`, embedded as is (a static text costs far less wasm than building the
//! document with `serde_json::json!`). The tests below hold it to the router's own constants
//! (routes, parameters, media types, targets, error codes, the default body limit, the run
//! report's header and `name` parameter); the
//! end-to-end test validates it as OpenAPI 3.1.

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::DOCUMENT;
    use crate::api::{
        CONVERT_PARAMS, DEFAULT_MAX_BODY_BYTES, ERROR_CODES, INSPECT_PARAMS, MODEL_MEDIA_TYPES, ROUTES, SIMULATE_PARAMS, TARGETS,
        status_of,
    };
    use crate::report;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).unwrap()
    }

    fn strings(v: &Value) -> BTreeSet<String> {
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn version_and_kind() {
        let d = doc();
        assert_eq!(d["openapi"], "3.1.0");
        assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn paths_are_exactly_the_routes() {
        let mut documented = BTreeSet::new();
        for (path, item) in doc()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let routes: BTreeSet<_> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        assert_eq!(documented, routes);
    }

    #[test]
    fn parameters_bodies_and_responses_match_the_router() {
        let d = doc();
        for (path, params) in [("/v1/convert", CONVERT_PARAMS), ("/v1/inspect", INSPECT_PARAMS), ("/v1/simulate", SIMULATE_PARAMS)] {
            let op = &d["paths"][path]["post"];
            let names: BTreeSet<String> =
                op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
            assert_eq!(names, set(params), "{path}");
            let media: BTreeSet<String> = op["requestBody"]["content"].as_object().unwrap().keys().cloned().collect();
            assert_eq!(media, set(MODEL_MEDIA_TYPES), "{path}");
            assert!(
                op["requestBody"]["description"].as_str().unwrap().contains(&DEFAULT_MAX_BODY_BYTES.to_string()),
                "{path}: the documented default limit"
            );
            let statuses: BTreeSet<String> = op["responses"].as_object().unwrap().keys().cloned().collect();
            assert_eq!(statuses, set(&["200", "400", "413", "415", "422", "500"]), "{path}");
        }
        let to = d["paths"]["/v1/convert"]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "to")
            .unwrap();
        assert_eq!(to["required"], true);
        assert_eq!(strings(&to["schema"]["enum"]), set(TARGETS));
        assert_eq!(strings(&d["components"]["schemas"]["Version"]["properties"]["targets"]["items"]["enum"]), set(TARGETS));
    }

    #[test]
    fn the_run_report_is_documented() {
        let d = doc();
        for path in ["/v1/convert", "/v1/simulate"] {
            let op = &d["paths"][path]["post"];
            let name = op["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "name").unwrap();
            assert_eq!(name["schema"]["default"], report::DEFAULT_NAME, "{path}");
            assert_eq!(name["schema"]["maxLength"], report::MAX_NAME_CHARS, "{path}");
            let header = &op["responses"]["200"]["headers"][report::HEADER]["$ref"];
            assert_eq!(header, "#/components/headers/EdgeportReport", "{path}");
        }
        let header = d["components"]["headers"]["EdgeportReport"]["description"].as_str().unwrap();
        assert!(header.contains("#r=") && header.contains(edgeport_engine::report::SCHEMA), "{header}");
        let ok = &d["paths"]["/v1/convert"]["post"]["responses"]["200"];
        assert!(ok["content"]["multipart/mixed"].is_object());
        let schema = &d["components"]["schemas"]["RunReport"]["properties"]["schema"]["const"];
        assert_eq!(schema, edgeport_engine::report::SCHEMA);
    }

    #[test]
    fn error_codes_match_the_router() {
        let d = doc();
        assert_eq!(strings(&d["components"]["schemas"]["Error"]["properties"]["code"]["enum"]), set(ERROR_CODES));
        for code in ERROR_CODES {
            let status = status_of(code);
            assert!((400..600).contains(&status), "{code}");
            // Each code's status is documented on the POST routes or as a shared response.
            let shared = matches!(status, 404 | 405);
            let on_post = d["paths"]["/v1/convert"]["post"]["responses"].get(status.to_string()).is_some();
            assert!(shared || on_post, "{code} -> {status} is not documented");
            assert!(DOCUMENT.contains(&format!("`{code}`")), "{code} is not described");
        }
        assert!(d["components"]["responses"]["NotFound"].is_object());
        assert!(d["components"]["responses"]["MethodNotAllowed"].is_object());
    }
}
