//! A sweep's plan: one scenario, once per value of one key (`--vary network.rtt=20ms,50ms`),
//! each value applied like `--set KEY=VALUE` on top of the other overrides (so the scenario is
//! validated exactly as if the user had edited the file), every value's scenario parsed
//! before anything runs. Each point is then one experiment (`run_experiment`) on a lab of its
//! own, since its `[network]` may differ. It deliberately reads no files and parses no
//! command line (the cli does), and formats nothing (`httplab_report::sweep`).

use httplab_core::{Override, OverrideOrigin, Scenario, ScenarioError};

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

impl SweepPlan {
    /// Plans `key` over `values` (distinct, none empty) for the scenario `source` (read from
    /// `file`) with the `--set` overrides `set`: each value is applied after them (so it wins
    /// over a `--set` of the same key) and its scenario parsed and validated now. A mistake in
    /// a value is located like any scenario mistake and names `--vary KEY=VALUE`.
    pub fn new(
        source: &str,
        file: &str,
        set: &[Override],
        key: &str,
        values: &[String],
    ) -> Result<SweepPlan, ScenarioError> {
        let mut points = Vec::with_capacity(values.len());
        for value in values {
            let overrides: Vec<Override> = set
                .iter()
                .cloned()
                .chain(std::iter::once(Self::point(key, value)))
                .collect();
            let scenario = Scenario::parse_with_overrides(source, file, &overrides)?;
            points.push(PlannedPoint {
                value: value.clone(),
                scenario,
            });
        }
        Ok(SweepPlan {
            key: key.to_string(),
            points,
        })
    }

    /// Checks every point's TCP congestion control against `available`, the host's (see
    /// `available_congestion_controls`), before anything runs; a missing one is located like
    /// any mistake in the plan.
    pub fn check_congestion_control(&self, available: &[String]) -> Result<(), ScenarioError> {
        self.points
            .iter()
            .try_for_each(|point| point.scenario.congestion_control.check(available))
    }

    /// The override one value of the sweep makes.
    fn point(key: &str, value: &str) -> Override {
        Override {
            key: key.to_string(),
            value: value.to_string(),
            origin: OverrideOrigin::Vary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const FILE: &str = "name = \"s\"\nprotocols = [\"http1.1\"]\n[server]\nthink = \"1ms\"\n\
                        [[resource]]\npath = \"/a\"\n";

    fn values(list: &[&str]) -> Vec<String> {
        list.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn each_value_gives_its_scenario_and_wins_over_a_set_of_the_same_key() {
        let set = vec![
            "server.think=7ms".parse::<Override>().expect("syntax"),
            "repeat=2".parse().expect("syntax"),
        ];
        let p = SweepPlan::new(
            FILE,
            "s.toml",
            &set,
            "server.think",
            &values(&["1ms", "20ms"]),
        )
        .expect("valid values");
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
        let p = SweepPlan::new(
            FILE,
            "s.toml",
            &[],
            "network.rtt",
            &values(&["5ms", "10ms"]),
        )
        .expect("valid");
        assert_eq!(
            p.points[1].scenario.network.as_ref().map(|n| n.rtt),
            Some(Duration::from_millis(10))
        );
    }

    #[test]
    fn a_bad_value_names_its_vary() {
        let e = SweepPlan::new(
            FILE,
            "s.toml",
            &[],
            "network.rtt",
            &values(&["5ms", "fast"]),
        )
        .expect_err("not a duration")
        .to_string();
        assert!(
            e.starts_with("s.toml: --vary network.rtt=fast: `fast` is not a duration"),
            "{e}"
        );
        let e = SweepPlan::new(FILE, "s.toml", &[], "server.thinking", &values(&["1ms"]))
            .expect_err("unknown key")
            .to_string();
        assert!(
            e.starts_with("s.toml: --vary server.thinking=1ms: unknown field `thinking`"),
            "{e}"
        );
    }
}
