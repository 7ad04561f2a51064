//! The two text formats `/metrics` speaks and how a scraper picks one.
//!
//! `prometheus_client` (0.22, the version in the lock file) encodes
//! OpenMetrics 1.0 only; Prometheus's classic text parser (format 0.0.4)
//! reads that output wrongly: it sees `# TYPE x counter` but samples named
//! `x_total`, so the counter is untyped, and `# EOF` / `# UNIT` are noise.
//! [`to_prometheus_text`] rewrites the encoder's output into 0.0.4 rather
//! than pulling in a second metrics library.
//!
//! Negotiation ([`Format::negotiate`]): OpenMetrics when the `Accept` header
//! lists `application/openmetrics-text` (any version) with a q-value at
//! least that of the best range matching `text/plain` (`text/plain`,
//! `text/*` or `*/*`); 0.0.4 otherwise, including when there is no `Accept`
//! header or it has no OpenMetrics range. Prometheus by default sends
//! `application/openmetrics-text;version=1.0.0,…;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1`
//! and so gets OpenMetrics; with `scrape_protocols: [PrometheusText0.0.4]`
//! it sends `text/plain;version=0.0.4,*/*;q=0.1` and gets 0.0.4; `curl`'s
//! `*/*` gets 0.0.4.

use std::collections::BTreeSet;

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    PrometheusText,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

/// `Content-Type` of the 0.0.4 answer.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of the OpenMetrics answer.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Longest `Accept` header considered; the rest is ignored (a limit on everything).
const MAX_ACCEPT_BYTES: usize = 4096;

impl Format {
    /// The format for a request's `Accept` header (module docs state the rule).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::PrometheusText;
        };
        let accept = accept.get(..MAX_ACCEPT_BYTES).unwrap_or(accept);
        let mut openmetrics: Option<u32> = None;
        let mut plain: Option<u32> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1000), |(_, v)| parse_q(v.trim()));
            let Some(q) = q else { continue };
            let slot = match media.as_str() {
                "application/openmetrics-text" => &mut openmetrics,
                "text/plain" | "text/*" | "*/*" => &mut plain,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        match (openmetrics, plain) {
            (Some(om), p) if om > 0 && om >= p.unwrap_or(0) => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// A q-value in thousandths (`0.5` → 500); `None` if it is not one (RFC 9110:
/// at most three decimals, 0 to 1).
fn parse_q(v: &str) -> Option<u32> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths = 0u32;
    for (i, b) in frac.bytes().enumerate() {
        let scale = [100u32, 10, 1].get(i).copied().unwrap_or(0);
        thousandths = thousandths.saturating_add(u32::from(b - b'0').saturating_mul(scale));
    }
    let q = whole.saturating_add(thousandths);
    (q <= 1000).then_some(q)
}

/// Rewrites the OpenMetrics text of `prometheus_client` into Prometheus text
/// format 0.0.4: a counter family `x` (samples `x_total`) is announced as
/// `# HELP x_total` / `# TYPE x_total counter`; `info` becomes a gauge named
/// `x_info`, `unknown` becomes `untyped`; `# UNIT`, `# EOF`, `_created`
/// samples and exemplars are dropped. Every other line passes unchanged.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    // Family name → its 0.0.4 name and type, from the TYPE lines (a HELP line
    // comes before its TYPE line, so this is a first pass).
    let mut counters = BTreeSet::new();
    let mut infos = BTreeSet::new();
    let mut created = BTreeSet::new();
    for line in openmetrics.lines() {
        if let Some((name, kind)) = descriptor(line, "# TYPE ") {
            match kind {
                "counter" => {
                    counters.insert(name.to_string());
                    created.insert(format!("{name}_created"));
                }
                "info" => {
                    infos.insert(name.to_string());
                }
                "histogram" | "summary" | "gaugehistogram" => {
                    created.insert(format!("{name}_created"));
                }
                _ => {}
            }
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some((name, kind)) = descriptor(line, "# TYPE ") {
            let (name, kind) = if counters.contains(name) {
                (format!("{name}_total"), "counter")
            } else if infos.contains(name) {
                (format!("{name}_info"), "gauge")
            } else {
                let kind = match kind {
                    "unknown" | "stateset" | "gaugehistogram" => "untyped",
                    k => k,
                };
                (name.to_string(), kind)
            };
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        if let Some((name, help)) = descriptor(line, "# HELP ") {
            let name = if counters.contains(name) {
                format!("{name}_total")
            } else if infos.contains(name) {
                format!("{name}_info")
            } else {
                name.to_string()
            };
            out.push_str(&format!("# HELP {name} {help}\n"));
            continue;
        }
        if line.starts_with('#') {
            // Any other comment: 0.0.4 ignores it as well.
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let (name, rest) = split_sample(line);
        if created.contains(name) {
            continue;
        }
        out.push_str(name);
        out.push_str(strip_exemplar(rest));
        out.push('\n');
    }
    out
}

/// `(name, rest)` of a `# TYPE name kind` or `# HELP name text` line.
fn descriptor<'a>(line: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let body = line.strip_prefix(prefix)?;
    Some(body.split_once(' ').unwrap_or((body, "")))
}

/// A sample line's metric name and what follows it (labels, value, …).
fn split_sample(line: &str) -> (&str, &str) {
    let end = line.find(['{', ' ']).unwrap_or(line.len());
    line.split_at(end)
}

/// The labels and value of a sample without an OpenMetrics exemplar
/// (` # {…} v` after the value); quoted label values are skipped over.
fn strip_exemplar(rest: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_labels = false;
    for (i, c) in rest.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' if in_labels => in_quotes = true,
            '{' => in_labels = true,
            '}' => in_labels = false,
            '#' if !in_labels => return rest.get(..i).unwrap_or(rest).trim_end(),
            _ => {}
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_default_accept_gets_openmetrics() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        let brief = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(brief)), Format::OpenMetrics);
    }

    #[test]
    fn plain_text_scrapers_get_0_0_4() {
        for accept in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/plain"),
            Some("text/plain;version=0.0.4,*/*;q=0.1"),
            Some("application/json"),
            // OpenMetrics asked for, but less than plain text.
            Some("text/plain;version=0.0.4,application/openmetrics-text;q=0.5"),
            // Refused outright.
            Some("application/openmetrics-text;q=0,*/*"),
            // A q-value that is not one is ignored with its range.
            Some("application/openmetrics-text;q=2,text/plain"),
        ] {
            assert_eq!(
                Format::negotiate(accept),
                Format::PrometheusText,
                "{accept:?}"
            );
        }
    }

    #[test]
    fn openmetrics_wins_ties_and_any_version() {
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text, text/plain")),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("Application/OpenMetrics-Text; version=0.0.1")),
            Format::OpenMetrics
        );
    }

    #[test]
    fn q_values_in_thousandths() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.075"), Some(75));
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("x"), None);
    }

    #[test]
    fn counters_info_unit_eof_created_and_exemplars_are_rewritten() {
        let om = "# HELP req Requests.\n\
                  # TYPE req counter\n\
                  req_total{route=\"/a # {b}\"} 3 # {trace=\"x\"} 1.0\n\
                  req_created{route=\"/a # {b}\"} 1700000000.0\n\
                  # HELP lat_seconds Latency.\n\
                  # TYPE lat_seconds histogram\n\
                  # UNIT lat_seconds seconds\n\
                  lat_seconds_sum 1.5\n\
                  lat_seconds_count 2\n\
                  lat_seconds_bucket{le=\"+Inf\"} 2\n\
                  lat_seconds_created 1700000000.0\n\
                  # HELP build Build.\n\
                  # TYPE build info\n\
                  build_info{version=\"1\"} 1\n\
                  # HELP up Up.\n\
                  # TYPE up gauge\n\
                  up 1\n\
                  # HELP odd Odd.\n\
                  # TYPE odd unknown\n\
                  odd 7\n\
                  # EOF\n";
        let expected = "# HELP req_total Requests.\n\
                        # TYPE req_total counter\n\
                        req_total{route=\"/a # {b}\"} 3\n\
                        # HELP lat_seconds Latency.\n\
                        # TYPE lat_seconds histogram\n\
                        lat_seconds_sum 1.5\n\
                        lat_seconds_count 2\n\
                        lat_seconds_bucket{le=\"+Inf\"} 2\n\
                        # HELP build_info Build.\n\
                        # TYPE build_info gauge\n\
                        build_info{version=\"1\"} 1\n\
                        # HELP up Up.\n\
                        # TYPE up gauge\n\
                        up 1\n\
                        # HELP odd Odd.\n\
                        # TYPE odd untyped\n\
                        odd 7\n";
        assert_eq!(to_prometheus_text(om), expected);
    }

    #[test]
    fn a_gauge_named_like_a_created_sample_is_kept() {
        // Only counter and histogram families have `_created` samples to drop.
        let om = "# HELP x_created When.\n# TYPE x_created gauge\nx_created 5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP x_created When.\n# TYPE x_created gauge\nx_created 5\n"
        );
    }
}
