//! Headless Chromium for tests that must see a page the way a browser renders it: the DOM
//! after parsing (`--dump-dom`), the console messages it logged, and a screenshot decoded to
//! pixels. Each run gets a fresh profile folder (removed afterwards), the flags that keep a
//! headless browser off the network and away from its own background work, and a time limit.
//! It finds the browser like [`crate::require_tool`]: a loud SKIP when missing, a failure under
//! CI. It knows nothing of httplab's reports; the tests decide what to look for.

use crate::{temp_dir, under_ci, KillOnDrop};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take (a cold start on a busy 2-core machine takes ~40 s).
const TIME_LIMIT: Duration = Duration::from_secs(240);

/// Flags every run gets: headless, no sandbox (tests may run as root), no GPU, and no
/// network or background activity of the browser's own.
const FLAGS: [&str; 10] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
];

/// A Chromium binary.
pub struct Chromium {
    binary: PathBuf,
}

/// What one run left: the browser's stdout (the DOM with `--dump-dom`) and stderr (its log).
pub struct Rendered {
    pub stdout: String,
    pub stderr: String,
}

impl Rendered {
    /// Messages the page wrote to the console (errors, warnings, logs, uncaught exceptions):
    /// the log's `CONSOLE` lines, which Chromium writes with `--enable-logging=stderr`.
    pub fn console_messages(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .collect()
    }
}

/// A decoded screenshot.
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    /// RGBA, row by row.
    pub rgba: Vec<u8>,
}

impl Screenshot {
    /// Distinct colours among the pixels (blank pages have one).
    pub fn distinct_colours(&self) -> usize {
        let mut seen: Vec<[u8; 4]> = self
            .rgba
            .chunks_exact(4)
            .map(|p| [p[0], p[1], p[2], p[3]])
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// The fraction of pixels that differ from the top-left one (the page background).
    pub fn ink_fraction(&self) -> f64 {
        let Some(bg) = self.rgba.get(..4) else {
            return 0.0;
        };
        let pixels = self.rgba.len() / 4;
        let ink = self.rgba.chunks_exact(4).filter(|p| *p != bg).count();
        ink as f64 / pixels.max(1) as f64
    }
}

impl Chromium {
    /// `$CHROMIUM`, else `/usr/bin/chromium`, else `chromium` or `chromium-browser` on PATH.
    /// Missing: under CI, panics; otherwise prints a loud SKIP line and returns `None`.
    pub fn find(test: &str) -> Option<Chromium> {
        let on_path = |name: &str| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        };
        let found = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.is_file()))
            .or_else(|| on_path("chromium"))
            .or_else(|| on_path("chromium-browser"));
        match found {
            Some(binary) => Some(Chromium { binary }),
            None => {
                let msg = format!(
                    "{test}: Chromium not found (install: apt-get install --no-install-recommends \
                     chromium, or set CHROMIUM)"
                );
                if under_ci() {
                    panic!("CI=true and {msg}");
                }
                eprintln!("\n**************** SKIP: {msg} ****************\n");
                None
            }
        }
    }

    /// The DOM of `file` after Chromium parsed and laid it out, with the console log.
    pub fn dump_dom(&self, file: &Path) -> Rendered {
        self.run(file, &["--dump-dom"])
    }

    /// A screenshot of `file` in a `width` × `height` window, written to `png` and decoded.
    pub fn screenshot(&self, file: &Path, png: &Path, width: u32, height: u32) -> Screenshot {
        let _ = std::fs::remove_file(png);
        let rendered = self.run(
            file,
            &[
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={width},{height}"),
            ],
        );
        let bytes = std::fs::read(png).unwrap_or_else(|e| {
            panic!(
                "Chromium wrote no screenshot to {}: {e}\n{}",
                png.display(),
                rendered.stderr
            )
        });
        decode_png(&bytes)
            .unwrap_or_else(|e| panic!("{}: not a PNG Chromium wrote: {e}", png.display()))
    }

    /// Runs Chromium on `file` (as a `file://` URL) with `extra` flags and a fresh profile;
    /// panics if it fails or outlives `TIME_LIMIT`.
    pub fn run(&self, file: &Path, extra: &[&str]) -> Rendered {
        let file = file
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        self.run_url(&format!("file://{}", file.display()), &FLAGS, extra)
    }

    /// Loads `url` with QUIC on (HTTP/3 forced for `quic_origin`, `host:port`, with `localhost`
    /// resolved to 127.0.0.1), trusting the server key whose SPKI SHA-256 is `spki` (base64),
    /// and writes Chromium's net log to `netlog`; returns the DOM (`--dump-dom`) and the log.
    /// Every other flag is [`FLAGS`]'s: no network or background activity of the browser's own.
    pub fn load_over_quic(
        &self,
        url: &str,
        quic_origin: &str,
        spki: &str,
        netlog: &Path,
    ) -> Rendered {
        let flags: Vec<&str> = FLAGS
            .into_iter()
            .filter(|f| *f != "--disable-quic")
            .collect();
        self.run_url(
            url,
            &flags,
            &[
                "--enable-quic",
                &format!("--origin-to-force-quic-on={quic_origin}"),
                // QUIC does not fall back from ::1 to 127.0.0.1 as TCP does, and the lab's
                // servers listen on IPv4.
                "--host-resolver-rules=MAP localhost 127.0.0.1",
                &format!("--ignore-certificate-errors-spki-list={spki}"),
                &format!("--log-net-log={}", netlog.display()),
                "--dump-dom",
            ],
        )
    }

    /// Runs Chromium with `flags` and `extra` on `url`, with a fresh profile; panics if it fails
    /// or outlives `TIME_LIMIT`.
    fn run_url(&self, url: &str, flags: &[&str], extra: &[&str]) -> Rendered {
        let profile = temp_dir("chromium-profile");
        let out_dir = temp_dir("chromium-out");
        let (stdout_path, stderr_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
        let open =
            |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let child = Command::new(&self.binary)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(open(&stdout_path))
            .stderr(open(&stderr_path))
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.binary.display()));
        let mut child = KillOnDrop(child);
        let started = Instant::now();
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        let status = loop {
            match child.0.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < TIME_LIMIT => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(None) => {
                    // Say what the browser was doing: its flags (a net log's path among
                    // them), its log's last lines, and whether it had written the DOM (then
                    // only the exit was missing).
                    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
                    panic!(
                        "Chromium did not finish within {TIME_LIMIT:?} on {url} with {} ({} \
                         bytes on stdout); the end of its log:\n{}",
                        extra.join(" "),
                        stdout.len(),
                        tail(&stderr, 40)
                    )
                }
                Err(e) => panic!("waiting for Chromium: {e}"),
            }
        };
        let rendered = Rendered {
            stdout: read(&stdout_path),
            stderr: read(&stderr_path),
        };
        let _ = std::fs::remove_dir_all(&profile);
        let _ = std::fs::remove_dir_all(&out_dir);
        assert!(
            status.success(),
            "Chromium exited with {status} on {url}:\n{}",
            rendered.stderr
        );
        rendered
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Decodes a PNG to RGBA.
pub fn decode_png(bytes: &[u8]) -> Result<Screenshot, png::DecodingError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let size = reader.output_buffer_size().unwrap_or(0);
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        _ => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
    };
    Ok(Screenshot {
        width: info.width,
        height: info.height,
        rgba,
    })
}
