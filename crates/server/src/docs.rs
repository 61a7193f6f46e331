//! The API reference page at `/api/docs`, rendered on the server from the OpenAPI document so
//! that it needs no script and no CDN (a store's LAN may have no internet), and the route
//! table that tells a 405 from a 404.

use serde_json::Value;
use utoipa::openapi::OpenApi;

pub const NO_WEB_APP_PAGE: &str = "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>DMS</title>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>4S 经销商管理系统</h1>\
<p>网页应用尚未构建。请运行 <code>scripts/run.sh</code>，它会构建网页应用并启动服务。</p>\
<p>The web app has not been built. Run <code>scripts/run.sh</code>, which builds it and starts the server.</p>\
<p><a href=\"/api/docs\">API reference</a></p></body></html>";

/// Documented path templates and their methods.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    pub fn from_spec(spec: &OpenApi) -> RouteTable {
        let value = serde_json::to_value(spec).unwrap_or(Value::Null);
        let mut routes = vec![];
        if let Some(paths) = value.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                let segments = path.split('/').map(str::to_string).collect();
                let methods = item
                    .as_object()
                    .map(|m| {
                        m.keys()
                            .filter(|k| {
                                matches!(k.as_str(), "get" | "post" | "put" | "patch" | "delete")
                            })
                            .map(|k| k.to_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                routes.push((segments, methods));
            }
        }
        RouteTable { routes }
    }

    /// The methods served at a concrete path (empty: no such route).
    pub fn methods_for(&self, path: &str) -> Vec<String> {
        let parts: Vec<&str> = path.split('/').collect();
        let matching: Vec<(usize, &Vec<String>)> = self
            .routes
            .iter()
            .filter(|(segs, _)| {
                segs.len() == parts.len()
                    && segs
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| (s.starts_with('{') && !p.is_empty()) || s == p)
            })
            .map(|(segs, m)| (segs.iter().filter(|s| s.starts_with('{')).count(), m))
            .collect();
        // `/cards/batch` is its own route, not `/cards/{id}` with id "batch": only the most
        // literal templates that match say which methods the path has.
        let fewest = matching.iter().map(|(n, _)| *n).min().unwrap_or(0);
        let mut out: Vec<String> = matching
            .into_iter()
            .filter(|(n, _)| *n == fewest)
            .flat_map(|(_, m)| m.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Minimal markdown: `code` and **bold**, paragraphs.
fn md(s: &str) -> String {
    let mut out = String::new();
    for para in esc(s).split("\n\n") {
        let mut html = String::new();
        let mut code = false;
        let mut bold = false;
        let mut rest = para;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("**") {
                html.push_str(if bold { "</b>" } else { "<b>" });
                bold = !bold;
                rest = r;
            } else if let Some(r) = rest.strip_prefix('`') {
                html.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
                rest = r;
            } else {
                let c = rest.chars().next().unwrap_or(' ');
                html.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if code {
            html.push_str("</code>");
        }
        if bold {
            html.push_str("</b>");
        }
        out.push_str(&format!("<p>{html}</p>"));
    }
    out
}

fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(items) = v.get("items") {
        return format!("[{}]", schema_name(items));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = list
                .iter()
                .map(schema_name)
                .filter(|s| s != "null")
                .collect();
            return parts.join(" | ");
        }
    }
    let ty = match v.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join("|"),
        _ => "object".into(),
    };
    match v.get("format").and_then(Value::as_str) {
        Some(f) => format!("{ty} ({f})"),
        None => ty,
    }
}

fn body_schema(content: Option<&Value>) -> String {
    content
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
        .map(|(ct, v)| {
            format!(
                "{} <small>{}</small>",
                v.get("schema").map(schema_name).unwrap_or_default(),
                esc(ct)
            )
        })
        .unwrap_or_default()
}

pub fn reference_page(spec_json: &str) -> String {
    let spec: Value = serde_json::from_str(spec_json).unwrap_or(Value::Null);
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>API reference</title><style>\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}\
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.5em 1em}.m{display:inline-block;min-width:4.5em;font-weight:bold}\
.get{color:#1565c0}.post{color:#2e7d32}.put,.patch{color:#ef6c00}.delete{color:#c62828}\
table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #eee;padding:.2em .6em;text-align:left;vertical-align:top}\
code{background:#f4f4f4;padding:0 .2em}h2{border-bottom:2px solid #eee}</style></head><body>",
    );
    let info = &spec["info"];
    h.push_str(&format!(
        "<h1>{}</h1>",
        esc(info["title"].as_str().unwrap_or("API"))
    ));
    h.push_str(&md(info["description"].as_str().unwrap_or("")));
    h.push_str("<p>Machine-readable: <a href=\"/api/openapi.json\">/api/openapi.json</a></p>");
    if let Some(paths) = spec["paths"].as_object() {
        h.push_str("<h2>Endpoints</h2>");
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                h.push_str(&format!(
                    "<div class=\"op\" id=\"{m}-{id}\"><span class=\"m {m}\">{M}</span> <code>{p}</code> — {s}",
                    m = esc(method),
                    M = esc(&method.to_uppercase()),
                    id = esc(&path.replace('/', "_")),
                    p = esc(path),
                    s = esc(op["summary"].as_str().unwrap_or("")),
                ));
                h.push_str(&md(op["description"].as_str().unwrap_or("")));
                if op.get("security").is_some() {
                    h.push_str("<p>Auth: <code>Authorization: Bearer</code></p>");
                }
                if let Some(params) = op["parameters"].as_array() {
                    h.push_str("<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>");
                    for p in params {
                        h.push_str(&format!(
                            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            esc(p["name"].as_str().unwrap_or("")),
                            if p["required"].as_bool() == Some(true) {
                                " *"
                            } else {
                                ""
                            },
                            esc(p["in"].as_str().unwrap_or("")),
                            schema_name(&p["schema"]),
                            esc(p["description"].as_str().unwrap_or("")),
                        ));
                    }
                    h.push_str("</table>");
                }
                if let Some(rb) = op.get("requestBody") {
                    h.push_str(&format!(
                        "<p>Request body: {}</p>",
                        body_schema(rb.get("content"))
                    ));
                }
                if let Some(rs) = op["responses"].as_object() {
                    h.push_str("<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>");
                    for (status, r) in rs {
                        h.push_str(&format!(
                            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                            esc(status),
                            esc(r["description"].as_str().unwrap_or("")),
                            body_schema(r.get("content")),
                        ));
                    }
                    h.push_str("</table>");
                }
                h.push_str("</div>");
            }
        }
    }
    if let Some(schemas) = spec["components"]["schemas"].as_object() {
        h.push_str("<h2>Schemas</h2>");
        for (name, s) in schemas {
            h.push_str(&format!(
                "<div class=\"op\" id=\"schema-{0}\"><b>{0}</b>",
                esc(name)
            ));
            h.push_str(&md(s["description"].as_str().unwrap_or("")));
            let required: Vec<&str> = s["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = s["properties"].as_object() {
                h.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
                for (field, p) in props {
                    h.push_str(&format!(
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(field),
                        if required.contains(&field.as_str()) {
                            " *"
                        } else {
                            ""
                        },
                        schema_name(p),
                        esc(p["description"].as_str().unwrap_or("")),
                    ));
                }
                h.push_str("</table>");
            } else {
                h.push_str(&format!("<p>{}</p>", schema_name(s)));
            }
            h.push_str("</div>");
        }
    }
    h.push_str("</body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_tells_405_from_404() {
        let t = RouteTable::from_spec(&crate::openapi());
        assert_eq!(t.methods_for("/api/v1/stores"), vec!["GET", "POST"]);
        assert_eq!(t.methods_for("/api/v1/stores/abc"), vec!["GET", "PATCH"]);
        assert!(t.methods_for("/api/v1/nothing").is_empty());
        assert!(t.methods_for("/api/v1/stores/").is_empty());
        // A literal route wins over a template that would also match.
        assert_eq!(t.methods_for("/api/v1/cards/batch"), vec!["POST"]);
        assert_eq!(t.methods_for("/api/v1/cards/abc"), vec!["GET"]);
    }

    #[test]
    fn markdown_is_escaped() {
        assert_eq!(
            md("a <b> `c` **d**"),
            "<p>a &lt;b&gt; <code>c</code> <b>d</b></p>"
        );
    }
}
