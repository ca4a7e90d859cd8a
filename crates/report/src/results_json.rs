//! `results.json`: everything a run produced, every repetition, in one document whose schema is
//! docs/results-schema.md. It owns the document's top-level shape, the scenario and summary
//! sections; the run records are serialized exactly as core's serde derives them (so they
//! deserialize back into `RunRecord`). It deliberately does not write files.

use crate::analysis::Analysis;
use crate::causes::{CauseSplit, RunCauses};
use crate::summary::ProtocolSummary;
use httplab_core::serde_ms::round_ms;
use httplab_core::{RunRecord, Scenario};
use serde_json::{json, Value};
use std::io::Write;

/// The schema id written at the top of every results.json; bumped on incompatible changes.
pub const SCHEMA: &str = "httplab-results/1";

/// The whole results document, in memory (for tests and small runs; `write_results` streams
/// the same document to a file).
pub fn results_json(a: &Analysis<'_>) -> Value {
    let mut doc = head_json(a);
    if let Value::Object(map) = &mut doc {
        map.insert(
            "runs".into(),
            a.runs
                .iter()
                .zip(&a.causes)
                .map(|(r, c)| run_json(r, c))
                .collect(),
        );
    }
    doc
}

/// Everything but `runs`.
fn head_json(a: &Analysis<'_>) -> Value {
    json!({
        "schema": SCHEMA,
        "complete": a.interruption.is_none(),
        "interrupted": a.interruption.as_ref().map(|i| json!({
            "reason": i.reason,
            "runs_planned": i.runs_planned,
            "runs_finished": a.runs.len(),
        })),
        "scenario": scenario_json(a.scenario),
        "environment": serde_json::to_value(a.env)
            .unwrap_or_else(|e| json!({ "error": e.to_string() })),
        "summary": a.summaries.iter().zip(&a.page_causes)
            .map(|(s, page)| summary_json(a.runs, s, page))
            .collect::<Vec<_>>(),
    })
}

/// Writes the document `results_json` builds to `w` without holding it in memory: the head
/// pretty-printed, then the runs one per line, each built, written and dropped in turn (a run's
/// JSON tree is several times its text, so a large run's whole tree would dwarf the file).
pub(crate) fn write_results(w: &mut impl Write, a: &Analysis<'_>) -> serde_json::Result<()> {
    let fields = match head_json(a) {
        Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    };
    w.write_all(b"{\n").map_err(serde_json::Error::io)?;
    for (key, value) in &fields {
        write!(w, "  {}: ", Value::from(key.as_str())).map_err(serde_json::Error::io)?;
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b",\n").map_err(serde_json::Error::io)?;
    }
    w.write_all(b"  \"runs\": [")
        .map_err(serde_json::Error::io)?;
    for (i, (r, c)) in a.runs.iter().zip(&a.causes).enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })
            .map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut *w, &run_json(r, c))?;
    }
    w.write_all(b"\n  ]\n}\n").map_err(serde_json::Error::io)
}

fn run_json(run: &RunRecord, causes: &RunCauses) -> Value {
    // Core's types serialize to plain maps with string keys; this cannot fail, but a record
    // that somehow did is shown as such rather than dropped.
    let mut value = serde_json::to_value(run).unwrap_or_else(|e| json!({ "error": e.to_string() }));
    if let Value::Object(map) = &mut value {
        map.insert("causes".into(), causes_json(causes));
    }
    value
}

/// `{"<cause>_ms": ...}` for every cause, zeros included, so the sum is plain to check.
pub(crate) fn split_json(split: &CauseSplit) -> Value {
    Value::Object(
        split
            .iter()
            .map(|(c, d)| (format!("{}_ms", c.id()), json!(round_ms(d))))
            .collect(),
    )
}

fn causes_json(causes: &RunCauses) -> Value {
    json!({
        "requests": causes.requests.iter().map(|r| {
            let mut v = split_json(&r.split);
            if let Value::Object(map) = &mut v {
                map.insert("request_id".into(), json!(r.request_id));
            }
            v
        }).collect::<Vec<_>>(),
        "critical_path": causes.critical_path,
        "page": split_json(&causes.page),
    })
}

pub(crate) fn scenario_json(s: &Scenario) -> Value {
    json!({
        "name": s.name,
        "description": s.description,
        "protocols": s.protocols.iter().map(|p| p.id()).collect::<Vec<_>>(),
        "repeat": s.repeat,
        "client": {
            "max_connections_per_host": s.client.max_connections_per_host,
            "tls": s.client.tls,
            "coalesce": s.client.coalesce,
        },
        "server": { "think_ms": round_ms(s.server.think) },
        "network": s.network,
        "origins": s.origins.iter().map(|o| json!({
            "name": o.name,
            "tls": o.tls,
            "max_connections": o.max_connections,
            "address": o.address,
        })).collect::<Vec<_>>(),
        "resources": s.resources.iter().map(|r| json!({
            "origin": s.origins.get(r.origin).map(|o| o.name.as_str()),
            "path": r.path,
            "size": r.size,
            "think_ms": round_ms(r.think),
            "status": r.status,
        })).collect::<Vec<_>>(),
    })
}

fn summary_json(runs: &[RunRecord], s: &ProtocolSummary, page: &CauseSplit) -> Value {
    // Index into the top-level `runs` array of the representative repetition.
    let median_run_index = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.label() == s.label)
        .nth(s.median_repetition)
        .map(|(i, _)| i);
    json!({
        "label": s.label,
        "protocol": s.protocol.id(),
        "repetitions": s.repetitions,
        "page_time_median_ms": round_ms(s.page_time_median),
        "page_time_p95_ms": round_ms(s.page_time_p95),
        "connections_opened": s.connections_opened,
        "tcp_handshakes": s.tcp_handshakes,
        "tls_handshakes": s.tls_handshakes,
        "mean_blocked_ms": round_ms(s.mean_blocked),
        "mean_queued_ms": round_ms(s.mean_queued),
        "mean_own_handshake_ms": round_ms(s.mean_own_handshake),
        "mean_ttfb_ms": round_ms(s.mean_ttfb),
        "wire_bytes": s.wire_bytes,
        "request_header_bytes": s.request_header_bytes,
        "response_header_bytes": s.response_header_bytes,
        "request_body_bytes": s.request_body_bytes,
        "response_body_bytes": s.response_body_bytes,
        "header_bytes_from_frames": s.header_bytes_from_frames,
        "failed_requests": s.failed_requests,
        "median_repetition": s.median_repetition,
        "page_causes": split_json(page),
        "median_run_index": median_run_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{scenario, RunBuilder};
    use crate::Environment;
    use std::time::Duration;

    fn runs() -> Vec<RunRecord> {
        vec![
            RunBuilder::http10(0, 44).build(),
            RunBuilder::http11(0, 23)
                .hol(2, Duration::from_micros(700))
                .build(),
            RunBuilder::http10(1, 40).fail(1, "reset").build(),
            RunBuilder::http11(1, 25).no_tls().build(),
            RunBuilder::http10(2, 48).build(),
        ]
    }

    #[test]
    fn runs_round_trip_through_the_document() {
        let runs = runs();
        let doc = results_json(&Analysis::new(&scenario(), &runs, &Environment::default()));
        // Through text, as a reader of the file would see it.
        let text = serde_json::to_string_pretty(&doc).expect("encode");
        let back: Value = serde_json::from_str(&text).expect("decode");
        let decoded: Vec<RunRecord> =
            serde_json::from_value(back["runs"].clone()).expect("runs deserialize as RunRecord");
        assert_eq!(decoded, runs);
    }

    #[test]
    fn top_level_scenario_and_summary() {
        let runs = runs();
        let env = Environment {
            httplab_version: "0.1.0".into(),
            congestion_control: "bbr".into(),
            notes: vec!["loss-free link".into()],
            ..Environment::default()
        };
        let doc = results_json(&Analysis::new(&scenario(), &runs, &env));
        assert_eq!(doc["schema"], "httplab-results/1");
        let sc = &doc["scenario"];
        assert_eq!(sc["name"], "four-objects");
        assert_eq!(sc["protocols"], json!(["http1.0", "http1.1"]));
        assert_eq!(sc["repeat"], 5);
        assert_eq!(sc["client"]["max_connections_per_host"], 2);
        assert_eq!(sc["client"]["tls"], true);
        assert_eq!(sc["server"]["think_ms"], 1.0);
        assert_eq!(
            sc["resources"][1],
            json!({"origin": "localhost", "path": "/img/1.png", "size": 14000, "think_ms": 1.0, "status": 200})
        );
        assert_eq!(
            sc["origins"],
            json!([{"name": "localhost", "tls": true, "max_connections": null, "address": 0}])
        );
        assert_eq!(doc["environment"]["congestion_control"], "bbr");
        assert_eq!(doc["environment"]["notes"][0], "loss-free link");
        let sum = doc["summary"].as_array().expect("summary");
        assert_eq!(sum.len(), 2);
        assert_eq!(sum[0]["protocol"], "http1.0");
        assert_eq!(sum[0]["repetitions"], 3);
        assert_eq!(sum[0]["page_time_median_ms"], 44.0);
        assert_eq!(sum[0]["failed_requests"], 1);
        // http1.0 page times 44, 40, 48: the 44 ms run, first in `runs`.
        assert_eq!(sum[0]["median_repetition"], 0);
        assert_eq!(sum[0]["median_run_index"], 0);
        // http1.1 page times 23, 25: the lower middle, index 1 in `runs`.
        assert_eq!(sum[1]["median_repetition"], 0);
        assert_eq!(sum[1]["median_run_index"], 1);
        assert_eq!(
            sum[1]["tls_handshakes"], 1.0,
            "one TLS run of two with 2 handshakes"
        );
        assert_eq!(doc["runs"].as_array().map(Vec::len), Some(5));
        assert_eq!(doc["runs"][1]["requests"][2]["phases"]["hol_ms"], 0.7);
        // Shapes docs/results-schema.md promises.
        let run = &doc["runs"][0];
        assert_eq!(
            run["connections"][0]["close_reason"],
            json!({"kind": "after_response"})
        );
        assert_eq!(run["requests"][0]["phases"]["connect_ms"], 1.5);
        assert_eq!(
            doc["runs"][1]["requests"][2]["phases"]["connect_ms"],
            Value::Null
        );
        assert_eq!(
            doc["runs"][3]["requests"][0]["phases"]["ssl_ms"],
            Value::Null
        );
        assert_eq!(
            run["requests"][0]["request_headers"][0],
            json!(["host", "lab.test:8443"])
        );
        assert_eq!(run["epoch_unix_ms"], 1_700_000_000_000_u64);
    }
}
