//! Output folders for `run` and `sweep`, made ready before the first repetition: a folder that
//! cannot be written is refused at once (not after minutes of measuring), and a folder that
//! holds another run is never mixed with the new one. The default folder
//! (`reports/<name>/`) that holds a previous run has it moved aside to a sibling named with
//! the time that run was written; a folder named with `--out` that holds a run is refused
//! unless `--force`, which replaces it. A folder holding files httplab did not write is never
//! deleted. It owns these decisions and the write probe; the files themselves are the report
//! crate's.

use crate::shard::SHARD_FILE;
use crate::UsageError;
use anyhow::Result;
use httplab_report::{file_stamp, JOURNAL_FILE};
use std::ffi::OsStr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Files whose presence makes a folder a run (or sweep) httplab wrote.
const RUN_MARKERS: &[&str] = &[
    "results.json",
    JOURNAL_FILE,
    "sweep.json",
    "load.json",
    SHARD_FILE,
];
/// Fixed names httplab writes into a run or sweep folder.
const KNOWN_FILES: &[&str] = &[
    "results.json",
    JOURNAL_FILE,
    "report.md",
    "report.html",
    "requests.csv",
    "sweep.json",
    "sweep.md",
    "sweep.html",
    "load.json",
    "load.md",
    SHARD_FILE,
];
/// Sibling names tried for a moved-aside run before giving up (bounded loop).
const MAX_ASIDE_NAMES: u32 = 100;

/// Where `out` is to be written, and who chose it.
pub(crate) enum Chosen {
    /// The user named it with `--out`.
    Named,
    /// The lab's default for the scenario.
    Default,
}

/// Makes `out` ready for a new run: empty (or new), writable, with nothing of another run in
/// it. Returns a line to print when it moved a previous run aside.
pub(crate) fn prepare(out: &Path, chosen: Chosen, force: bool) -> Result<Option<String>> {
    let mut note = None;
    if out.exists() {
        if !out.is_dir() {
            return Err(UsageError(format!(
                "--out {}: exists and is not a folder; name a folder (new or empty)",
                out.display()
            ))
            .into());
        }
        let entries = entries(out)?;
        if !entries.is_empty() {
            let is_run = entries.iter().any(|e| RUN_MARKERS.contains(&e.as_str()));
            let foreign: Vec<&String> = entries.iter().filter(|e| !httplab_wrote(e)).collect();
            match (chosen, force) {
                (Chosen::Default, _) => note = Some(move_aside(out)?),
                (Chosen::Named, true) if foreign.is_empty() => {
                    std::fs::remove_dir_all(out).map_err(|e| {
                        UsageError(format!("--force: could not remove {}: {e}", out.display()))
                    })?;
                }
                (Chosen::Named, _) if !foreign.is_empty() => {
                    return Err(UsageError(format!(
                        "--out {}: holds files httplab did not write ({}); name a new or empty \
                         folder (--force replaces only a folder httplab wrote)",
                        out.display(),
                        list(&foreign)
                    ))
                    .into())
                }
                (Chosen::Named, _) => {
                    return Err(UsageError(format!(
                        "--out {}: holds {}; pass --force to replace it, or name another folder",
                        out.display(),
                        if is_run {
                            "another run"
                        } else {
                            "files of another run"
                        }
                    ))
                    .into())
                }
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| {
        UsageError(format!(
            "cannot create the output folder {}: {e}",
            out.display()
        ))
    })?;
    probe_write(out)?;
    Ok(note)
}

/// Creates, writes, flushes and removes a file in `dir`, so a folder that cannot hold the
/// results is refused before anything runs.
fn probe_write(dir: &Path) -> Result<()> {
    let probe = dir.join(format!(".httplab-write-probe-{}", std::process::id()));
    let written = std::fs::write(&probe, b"probe")
        .and_then(|()| std::fs::File::open(&probe)?.sync_all())
        .and_then(|()| std::fs::remove_file(&probe));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&probe);
        UsageError(format!(
            "cannot write into the output folder {}: {e}; name a writable folder with --out",
            dir.display()
        ))
        .into()
    })
}

/// The names in `dir`.
fn entries(dir: &Path) -> Result<Vec<String>> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", dir.display())))?;
    let mut names: Vec<String> = read
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Whether httplab writes files of this name into a run or sweep folder: the fixed names, a
/// HAR per protocol, a `--pcap` file written there, `compare-vs-*` folders, a sweep's `KEY=VALUE` point folders, and the
/// temporaries of an interrupted write.
fn httplab_wrote(name: &str) -> bool {
    KNOWN_FILES.contains(&name)
        || ["har", "pcap"]
            .iter()
            .any(|ext| Path::new(name).extension() == Some(OsStr::new(ext)))
        || name.starts_with("compare-vs-")
        || (name.contains('=') && !name.starts_with('.'))
        || (name.starts_with('.') && name.contains(".tmp-"))
}

/// Renames `out` to a sibling named with the time its run was written, and says so.
fn move_aside(out: &Path) -> Result<String> {
    let written = RUN_MARKERS
        .iter()
        .filter_map(|m| std::fs::metadata(out.join(m)).ok()?.modified().ok())
        .max()
        .or_else(|| std::fs::metadata(out).ok()?.modified().ok())
        .unwrap_or_else(SystemTime::now);
    let ms = written
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let base = format!(
        "{}-{}",
        out.file_name()
            .map_or_else(|| "run".into(), |n| n.to_string_lossy()),
        file_stamp(ms)
    );
    let aside = (1..=MAX_ASIDE_NAMES)
        .map(|n| {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            out.with_file_name(name)
        })
        .find(|p| !p.exists())
        .ok_or_else(|| {
            UsageError(format!(
                "{}: too many earlier runs set aside beside it; remove some",
                out.display()
            ))
        })?;
    std::fs::rename(out, &aside).map_err(|e| {
        UsageError(format!(
            "could not move the previous run in {} aside to {}: {e}",
            out.display(),
            aside.display()
        ))
    })?;
    Ok(format!(
        "moved the previous run in {} to {}",
        out.display(),
        aside.display()
    ))
}

/// `a, b, c` (at most five, then how many more).
fn list(names: &[&String]) -> String {
    let mut shown: Vec<String> = names.iter().take(5).map(|n| n.to_string()).collect();
    if names.len() > 5 {
        shown.push(format!("and {} more", names.len() - 5));
    }
    shown.join(", ")
}

/// Removes `dir` if it is empty (a run that ended before writing anything), keeping any
/// folder that holds something.
pub(crate) fn remove_if_empty(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("httplab-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_named_folder_with_a_run_is_refused_then_replaced_with_force() {
        let dir = temp("named");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.json"), "{}").unwrap();
        std::fs::write(dir.join("http1.1.har"), "{}").unwrap();
        let e = prepare(&dir, Chosen::Named, false).unwrap_err().to_string();
        assert!(e.contains("holds another run; pass --force"), "{e}");
        assert!(
            dir.join("http1.1.har").exists(),
            "nothing removed without --force"
        );
        assert_eq!(prepare(&dir, Chosen::Named, true).unwrap(), None);
        assert!(
            entries(&dir).unwrap().is_empty(),
            "--force replaced the folder"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_with_foreign_files_is_never_deleted() {
        let dir = temp("foreign");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.json"), "{}").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = prepare(&dir, Chosen::Named, true).unwrap_err().to_string();
        assert!(e.contains("did not write (notes.txt)"), "{e}");
        assert!(dir.join("notes.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_default_folder_moves_a_previous_run_aside() {
        let dir = temp("default");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.json"), "{}").unwrap();
        let note = prepare(&dir, Chosen::Default, false).unwrap().unwrap();
        assert!(note.starts_with("moved the previous run in"), "{note}");
        assert!(entries(&dir).unwrap().is_empty());
        let aside = PathBuf::from(note.rsplit(" to ").next().unwrap());
        assert!(aside.join("results.json").exists(), "{note}");
        std::fs::remove_dir_all(&aside).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn httplab_names_are_recognised() {
        for name in [
            "results.json",
            "h2.har",
            "run.pcap",
            "compare-vs-base",
            "network.rtt=20ms",
            ".results.json.tmp-42",
        ] {
            assert!(httplab_wrote(name), "{name}");
        }
        for name in ["notes.txt", ".git", "data.json"] {
            assert!(!httplab_wrote(name), "{name}");
        }
    }
}
