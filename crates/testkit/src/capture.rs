//! Packet captures for tests: tshark on the loopback interface, filtered to one port, and the
//! HTTP/2 request paths tshark can read out of a capture once it has the TLS key log. This is
//! how the tests check that `SSLKEYLOGFILE` really lets Wireshark decrypt the lab's traffic.

use crate::{require_tool, KillOnDrop};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long tshark may take to start capturing.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running capture of the loopback traffic to and from one TCP port.
pub struct Capture {
    pub file: PathBuf,
    process: KillOnDrop,
}

impl Capture {
    /// Starts tshark on `lo` with the capture filter `tcp port PORT`, writing pcap to `file`;
    /// returns once tshark says it is capturing. `None` (after a SKIP line) without tshark.
    pub fn start(test: &str, port: u16, file: &Path) -> Option<Capture> {
        let tshark = require_tool("tshark", test, "apt-get install tshark")?;
        let mut child = Command::new(tshark)
            .args([
                "-i",
                "lo",
                "-f",
                &format!("tcp port {port}"),
                "-F",
                "pcap",
                "-w",
            ])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tshark");
        let stderr = child.stderr.take().expect("piped stderr");
        let process = KillOnDrop(child);
        // tshark prints "Capturing on 'Loopback: lo'" once the capture is live.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("Capturing on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| panic!("tshark did not start capturing within {START_TIMEOUT:?}"));
        // "Capturing on" comes a moment before packets flow through the filter; a short pause
        // keeps the first SYN in the capture.
        std::thread::sleep(Duration::from_millis(200));
        Some(Capture {
            file: file.to_path_buf(),
            process,
        })
    }

    /// Stops the capture (SIGINT, so tshark flushes the file) and returns its path.
    pub fn stop(mut self) -> PathBuf {
        // Let the last packets reach the capture before stopping it.
        std::thread::sleep(Duration::from_millis(300));
        let pid = self.process.0.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.file.clone()
    }
}

/// The `:path` of every HTTP/2 request tshark can decode in `pcap`, reading TLS on `port` with
/// the key log `keys` (`None`: no key log, so nothing should decode).
pub fn http2_paths(pcap: &Path, port: u16, keys: Option<&Path>) -> Vec<String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap);
    cmd.args(["-d", &format!("tcp.port=={port},tls")]);
    if let Some(keys) = keys {
        cmd.arg("-o")
            .arg(format!("tls.keylog_file:{}", keys.display()));
    }
    cmd.args([
        "-Y",
        "http2.headers.path",
        "-T",
        "fields",
        "-e",
        "http2.headers.path",
    ]);
    let out = cmd.output().expect("run tshark -r");
    assert!(
        out.status.success(),
        "tshark -r failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|line| line.split(','))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}
