//! `--shard K/N` on `load` and `sweep`, and what a shard writes so that `httplab merge` can
//! tell its shards apart from another run's: the scenario's digest, and for a sweep its
//! `shard.json` (every value of the sweep, the ones this shard ran, and the recipe to rebuild
//! each point's scenario).
//!
//! K counts from 0, as a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` and a Slurm array's
//! `SLURM_ARRAY_TASK_ID` (with `--array=0-(N-1)`) do; `--shard auto/N` takes K from the first
//! of those that is set. Which items a shard runs is the harness's rule (`Shard`); this module
//! only reads the argument and the environment, and owns the records a shard leaves behind.

use crate::{RunArgs, UsageError};
use anyhow::{Context, Result};
use httplab_harness::Shard;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;

/// The variables a scheduler numbers its tasks with (from 0), in the order `auto` reads them.
pub(crate) const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];
/// The file a sharded sweep writes into its folder.
pub(crate) const SHARD_FILE: &str = "shard.json";
/// The schema of [`SHARD_FILE`].
pub(crate) const SWEEP_SHARD_SCHEMA: &str = "httplab-sweep-shard/1";

/// Why `--shard` could not be read; each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShardError {
    #[error(
        "--shard {0}: write K/N, part K of N counting from 0 (N at least 1, K from 0 to N-1: \
         0/4, 1/4, 2/4, 3/4), or auto/N to take K from JOB_COMPLETION_INDEX (a Kubernetes \
         Indexed Job) or SLURM_ARRAY_TASK_ID (a Slurm job array)"
    )]
    Form(String),
    #[error(
        "--shard auto/{count}: neither JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's pods \
         have it) nor SLURM_ARRAY_TASK_ID (a Slurm array's tasks have it) is set; give the \
         index: --shard K/{count}"
    )]
    NoIndex { count: u32 },
    #[error(
        "--shard auto/{count}: {variable}={value} is not an index from 0 to {last}; run {count} \
         tasks numbered from 0 (Kubernetes: completions: {count}, completionMode: Indexed; \
         Slurm: --array=0-{last})"
    )]
    BadIndex {
        count: u32,
        variable: &'static str,
        value: String,
        last: u32,
    },
}

/// Reads `--shard` (`K/N` or `auto/N`), looking variables up with `env`.
pub(crate) fn parse(arg: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
    let form = || ShardError::Form(arg.to_string());
    let (index, count) = arg.trim().split_once('/').ok_or_else(form)?;
    let count: u32 = count.trim().parse().map_err(|_| form())?;
    if count == 0 {
        return Err(form());
    }
    let index = index.trim();
    if index != "auto" {
        let index: u32 = index.parse().map_err(|_| form())?;
        return Shard::new(index, count).ok_or_else(form);
    }
    let (variable, value) = INDEX_VARIABLES
        .iter()
        .find_map(|&v| env(v).filter(|x| !x.trim().is_empty()).map(|x| (v, x)))
        .ok_or(ShardError::NoIndex { count })?;
    value
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|i| Shard::new(i, count))
        .ok_or(ShardError::BadIndex {
            count,
            variable,
            value,
            last: count - 1,
        })
}

/// `--shard` as given, read with this process's environment; a mistake is a [`UsageError`].
pub(crate) fn from_arg(arg: Option<&str>) -> Result<Option<Shard>> {
    arg.map(|a| parse(a, |v| std::env::var(v).ok()))
        .transpose()
        .map_err(|e| UsageError(e.to_string()).into())
}

/// `{"index": K, "count": N}`, or null for a run that was not sharded.
pub(crate) fn shard_json(shard: Option<Shard>) -> Value {
    shard.map_or(
        Value::Null,
        |s| json!({ "index": s.index(), "count": s.count() }),
    )
}

/// The default output folder's suffix for a shard: `-0of4`.
pub(crate) fn folder_suffix(shard: Option<Shard>) -> String {
    shard.map_or_else(String::new, |s| format!("-{}of{}", s.index(), s.count()))
}

/// A digest of the scenario as run: FNV-1a (64 bits, hex) over the file's text and each
/// `--set` override, so shards of different scenarios, or of one file with different
/// overrides, are told apart. The same text read from two paths is the same scenario.
pub(crate) fn digest(source: &str, set: &[String]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    eat(source.as_bytes());
    for s in set {
        // A separator no text holds, so `a` + `bc` and `ab` + `c` differ.
        eat(&[0]);
        eat(s.as_bytes());
    }
    format!("{hash:016x}")
}

/// `shard.json` of a sharded sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepShard {
    pub(crate) schema: String,
    pub(crate) httplab_version: String,
    pub(crate) shard: ShardPart,
    pub(crate) scenario: ScenarioPart,
    /// The varied key.
    pub(crate) key: String,
    /// Every value of the whole sweep, in the order given.
    pub(crate) values: Vec<String>,
    /// The values this shard ran (value `i` of `values` iff `i mod N = K`).
    pub(crate) points: Vec<String>,
    pub(crate) recipe: SweepRecipe,
}

/// `{"index": K, "count": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardPart {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

/// The scenario's name and [`digest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScenarioPart {
    pub(crate) name: String,
    pub(crate) digest: String,
}

/// What rebuilds each point's scenario: the file's text, `--set`, and the command line's
/// `--protocols` and `--repeat` (absent: the scenario's own), and whether the link was off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SweepRecipe {
    pub(crate) file: String,
    pub(crate) source: String,
    pub(crate) set: Vec<String>,
    pub(crate) protocols: Option<Vec<String>>,
    pub(crate) repeat: Option<u32>,
    pub(crate) no_link: bool,
}

impl SweepShard {
    /// The record of shard `shard` of the sweep of `key` over `values` (all of them), of the
    /// scenario file `path` whose text is `source`, run with `args`.
    pub(crate) fn new(
        shard: Shard,
        (path, source): (&Path, &str),
        args: &RunArgs,
        name: &str,
        key: &str,
        values: Vec<String>,
    ) -> SweepShard {
        SweepShard {
            schema: SWEEP_SHARD_SCHEMA.to_string(),
            httplab_version: env!("CARGO_PKG_VERSION").to_string(),
            shard: ShardPart {
                index: shard.index(),
                count: shard.count(),
            },
            scenario: ScenarioPart {
                name: name.to_string(),
                digest: digest(source, &args.set),
            },
            key: key.to_string(),
            points: values
                .iter()
                .enumerate()
                .filter(|&(i, _)| shard.keeps(i as u64))
                .map(|(_, v)| v.clone())
                .collect(),
            values,
            recipe: SweepRecipe {
                file: path.display().to_string(),
                source: source.to_string(),
                set: args.set.clone(),
                protocols: args.protocols.clone(),
                repeat: args.repeat,
                no_link: args.no_link,
            },
        }
    }

    /// Writes `dir/shard.json`.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SHARD_FILE);
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        httplab_report::write_file(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Reads `dir/shard.json`; a file that is not one is a [`UsageError`] naming it.
    pub(crate) fn read(dir: &Path) -> Result<SweepShard> {
        let path = dir.join(SHARD_FILE);
        let bad = |why: String| UsageError(format!("{}: {why}", path.display()));
        let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        match value.get("schema").and_then(Value::as_str) {
            Some(SWEEP_SHARD_SCHEMA) => {}
            found => {
                return Err(bad(format!(
                    "schema {}; this httplab merges `{SWEEP_SHARD_SCHEMA}`",
                    found.map_or_else(|| "missing".into(), |s| format!("`{s}`"))
                ))
                .into())
            }
        }
        Ok(serde_json::from_value(value)
            .map_err(|e| bad(format!("not a sweep shard's record: {e}")))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn k_of_n_counts_from_zero() {
        let s = parse("0/2", env(&[])).expect("first of two");
        assert_eq!((s.index(), s.count()), (0, 2));
        let s = parse(" 3/4 ", env(&[])).expect("last of four");
        assert_eq!((s.index(), s.count()), (3, 4));
        assert_eq!(parse("0/1", env(&[])).map(|s| s.count()), Ok(1));
    }

    #[test]
    fn other_forms_are_refused_saying_the_form() {
        for bad in [
            "3/2", "2/2", "0/0", "1/0", "x/2", "2", "", "/2", "1/", "-1/2", "1/2/3",
        ] {
            let e = parse(bad, env(&[])).expect_err(bad);
            assert_eq!(e, ShardError::Form(bad.to_string()));
            assert!(e.to_string().contains("write K/N"), "{e}");
        }
    }

    #[test]
    fn auto_takes_the_index_from_kubernetes_then_slurm() {
        let k8s = [("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "2")];
        assert_eq!(parse("auto/3", env(&k8s)).map(|s| s.index()), Ok(1));
        let slurm = [("SLURM_ARRAY_TASK_ID", "2")];
        assert_eq!(parse("auto/3", env(&slurm)).map(|s| s.index()), Ok(2));
        let empty = [("JOB_COMPLETION_INDEX", ""), ("SLURM_ARRAY_TASK_ID", "0")];
        assert_eq!(parse("auto/3", env(&empty)).map(|s| s.index()), Ok(0));
        let e = parse("auto/3", env(&[])).expect_err("no variable");
        assert_eq!(e, ShardError::NoIndex { count: 3 });
        assert!(e.to_string().contains("JOB_COMPLETION_INDEX"), "{e}");
        let e = parse("auto/3", env(&[("SLURM_ARRAY_TASK_ID", "3")])).expect_err("past N");
        assert!(
            e.to_string()
                .starts_with("--shard auto/3: SLURM_ARRAY_TASK_ID=3 is not an index from 0 to 2"),
            "{e}"
        );
        assert!(e.to_string().contains("--array=0-2"), "{e}");
        let e = parse("auto/0", env(&k8s)).expect_err("no parts");
        assert_eq!(e, ShardError::Form("auto/0".into()));
    }

    #[test]
    fn the_digest_tells_text_and_overrides_apart() {
        // FNV-1a 64 of the empty input is its offset basis; of "a", the published vector.
        assert_eq!(digest("", &[]), "cbf29ce484222325");
        assert_eq!(digest("a", &[]), "af63dc4c8601ec8c");
        let base = digest("name = \"x\"\n", &[]);
        assert_eq!(base, digest("name = \"x\"\n", &[]));
        assert_ne!(base, digest("name = \"y\"\n", &[]));
        assert_ne!(base, digest("name = \"x\"\n", &["repeat=2".into()]));
        assert_ne!(
            digest("", &["ab".into(), "c".into()]),
            digest("", &["a".into(), "bc".into()])
        );
    }
}
