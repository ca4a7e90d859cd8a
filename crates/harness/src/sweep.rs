//! A sweep: one scenario run once per value of one key (`--vary network.rtt=20ms,50ms,100ms`),
//! each value applied like `--set KEY=VALUE` on top of the other overrides (so the scenario is
//! validated exactly as if the user had edited the file), every value's scenario parsed before
//! anything runs, and each point run on a lab of its own, since its `[network]` may differ.
//! It owns splitting the value list, the plan with its errors, and running one point; it
//! deliberately reads no files (the cli does) and formats nothing (`httplab_report::sweep`).

use crate::{HarnessError, Lab, LabOptions, Progress};
use httplab_core::{Override, RunRecord, Scenario, ScenarioError};
use std::sync::Arc;

/// Why a `--vary` could not be planned; each names the argument and what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    #[error("--vary `{0}`: write KEY=V1,V2,..., e.g. --vary network.rtt=20ms,50ms,100ms")]
    Syntax(String),
    #[error("--vary {key}={list}: value {position} is empty; write V1,V2,... with no empty items")]
    EmptyValue {
        key: String,
        list: String,
        position: usize,
    },
    #[error("--vary {key}={list}: `{value}` is given twice; each value is one point of the sweep")]
    Duplicate {
        key: String,
        list: String,
        value: String,
    },
    /// A value (or the file) the scenario refuses, located like every scenario mistake; a
    /// mistake in the value names `--vary KEY=VALUE`.
    #[error("{0}")]
    Scenario(ScenarioError),
}

/// One value of the varied key and the scenario it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPoint {
    /// The value as written, e.g. `20ms`.
    pub value: String,
    pub scenario: Scenario,
}

/// Every point of a sweep, in the order the values were given.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    /// The varied key, e.g. `network.rtt`.
    pub key: String,
    pub points: Vec<PlannedPoint>,
}

/// Splits `V1,V2,...` at the commas that are not inside brackets, braces, parentheses or
/// quotes, so a think-time distribution (`uniform(5ms,50ms)`) or a TOML list is one value.
/// Items are trimmed; empty ones are kept (the plan refuses them with their position).
pub fn split_values(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut item = String::new();
    for c in list.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                out.push(item.trim().to_string());
                item.clear();
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    out.push(item.trim().to_string());
    out
}

impl SweepPlan {
    /// Plans `--vary KEY=V1,V2,...` over the scenario `source` (read from `file`) with the
    /// `--set` overrides `set`: each value is applied after them (so it wins over a `--set` of
    /// the same key) and its scenario parsed and validated now.
    pub fn new(
        source: &str,
        file: &str,
        set: &[Override],
        vary: &str,
    ) -> Result<SweepPlan, SweepError> {
        let syntax = || SweepError::Syntax(vary.to_string());
        let parsed: Override = vary.parse().map_err(|_| syntax())?;
        let (key, list) = (parsed.key, parsed.value);
        if list.is_empty() {
            return Err(syntax());
        }
        let values = split_values(&list);
        let mut points: Vec<PlannedPoint> = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            if value.is_empty() {
                return Err(SweepError::EmptyValue {
                    key,
                    list,
                    position: i + 1,
                });
            }
            if points.iter().any(|p| p.value == value) {
                return Err(SweepError::Duplicate { key, list, value });
            }
            let this = Override {
                key: key.clone(),
                value: value.clone(),
            };
            let overrides: Vec<Override> = set
                .iter()
                .cloned()
                .chain(std::iter::once(this.clone()))
                .collect();
            let scenario = Scenario::parse_with_overrides(source, file, &overrides)
                .map_err(|e| vary_error(e, &this))?;
            points.push(PlannedPoint { value, scenario });
        }
        Ok(SweepPlan { key, points })
    }

    /// Checks every point's TCP congestion control against `available`, the host's (see
    /// `available_congestion_controls`), before anything runs; a missing one is located like
    /// any mistake in the plan.
    pub fn check_congestion_control(&self, available: &[String]) -> Result<(), SweepError> {
        for point in &self.points {
            let this = Override {
                key: self.key.clone(),
                value: point.value.clone(),
            };
            point
                .scenario
                .congestion_control
                .check(available)
                .map_err(|e| vary_error(e, &this))?;
        }
        Ok(())
    }
}

/// A scenario error of the point `this`: core names the override `--set KEY=VALUE`, where the
/// user wrote `--vary`.
fn vary_error(mut e: ScenarioError, this: &Override) -> SweepError {
    if let Some(rest) = e.message.strip_prefix(&this.label()) {
        e.message = format!("--vary {}={}{rest}", this.key, this.value);
    }
    SweepError::Scenario(e)
}

/// What one point produced.
#[derive(Debug)]
pub struct PointRuns {
    pub runs: Vec<RunRecord>,
    /// Why the point ran on plain loopback, if it did (`Lab::network_note`).
    pub network_note: Option<String>,
}

/// Runs one point: a lab of its own for `scenario`, every configuration `scenario.repeat`
/// times, then the lab shut down whatever happened.
pub async fn run_point(
    scenario: Arc<Scenario>,
    options: LabOptions,
    progress: impl FnMut(Progress),
) -> Result<PointRuns, HarnessError> {
    let lab = Lab::start(scenario.clone(), options).await?;
    let network_note = lab.network_note().map(str::to_string);
    let result = lab
        .run_all(&scenario.protocols, scenario.repeat, progress)
        .await;
    lab.shutdown().await;
    Ok(PointRuns {
        runs: result?,
        network_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const FILE: &str = "name = \"s\"\nprotocols = [\"http1.1\"]\n[server]\nthink = \"1ms\"\n\
                        [[resource]]\npath = \"/a\"\n";

    fn plan(vary: &str) -> Result<SweepPlan, SweepError> {
        SweepPlan::new(FILE, "s.toml", &[], vary)
    }

    #[test]
    fn values_split_at_top_level_commas_only() {
        assert_eq!(split_values("20ms, 50ms ,100ms"), ["20ms", "50ms", "100ms"]);
        assert_eq!(
            split_values("uniform(5ms,50ms),2ms"),
            ["uniform(5ms,50ms)", "2ms"]
        );
        assert_eq!(
            split_values("[\"ie7\",\"chrome\"],\"a,b\""),
            ["[\"ie7\",\"chrome\"]", "\"a,b\""]
        );
        assert_eq!(split_values("a,,b"), ["a", "", "b"]);
    }

    #[test]
    fn each_value_gives_its_scenario_and_wins_over_a_set_of_the_same_key() {
        let set = vec![
            "server.think=7ms".parse::<Override>().expect("syntax"),
            "repeat=2".parse().expect("syntax"),
        ];
        let p =
            SweepPlan::new(FILE, "s.toml", &set, "server.think=1ms,20ms").expect("valid values");
        assert_eq!(p.key, "server.think");
        let thinks: Vec<(String, Duration, u32)> = p
            .points
            .iter()
            .map(|q| (q.value.clone(), q.scenario.server.think, q.scenario.repeat))
            .collect();
        assert_eq!(
            thinks,
            [
                ("1ms".to_string(), Duration::from_millis(1), 2),
                ("20ms".to_string(), Duration::from_millis(20), 2)
            ]
        );
        // A key the file lacks is added, as --set does.
        let p = plan("network.rtt=5ms,10ms").expect("valid");
        assert_eq!(
            p.points[1].scenario.network.as_ref().map(|n| n.rtt),
            Some(Duration::from_millis(10))
        );
    }

    #[test]
    fn bad_arguments_and_values_are_refused_before_anything_runs() {
        let e = plan("network.rtt").expect_err("no =").to_string();
        assert!(
            e.starts_with("--vary `network.rtt`: write KEY=V1,V2"),
            "{e}"
        );
        assert!(matches!(plan("network.rtt="), Err(SweepError::Syntax(_))));
        let e = plan("network.rtt=5ms,,10ms")
            .expect_err("empty")
            .to_string();
        assert_eq!(
            e,
            "--vary network.rtt=5ms,,10ms: value 2 is empty; write V1,V2,... with no empty items"
        );
        let e = plan("network.rtt=5ms,5ms").expect_err("twice").to_string();
        assert!(e.contains("`5ms` is given twice"), "{e}");
        let e = plan("network.rtt=5ms,fast")
            .expect_err("not a duration")
            .to_string();
        assert!(
            e.starts_with("s.toml: --vary network.rtt=fast: `fast` is not a duration"),
            "{e}"
        );
        let e = plan("server.thinking=1ms,2ms")
            .expect_err("unknown key")
            .to_string();
        assert!(
            e.starts_with("s.toml: --vary server.thinking=1ms: unknown field `thinking`"),
            "{e}"
        );
    }
}
