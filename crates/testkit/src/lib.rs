//! Helpers shared by the test suites: the repository's scenario files, private temporary
//! folders, the bytes the lab server fills bodies with, and the rule for tests that need an
//! outside peer (curl, nginx, h2load): a loud SKIP line when the peer is missing, and a failure
//! instead when running under CI (`CI=true`). The peers and helpers the protocol crates' tests
//! share live in modules: [`h2_peer`] and [`http1_peer`] (test servers for the clients),
//! [`http1_raw`] (a raw HTTP/1.x client side for the server's tests), [`requests`] (request
//! specs) and [`binary`] (running the `httplab` binary). This crate depends on no crate it
//! helps test (each of them dev-depends on it): whatever builds a crate's own client or server
//! stays in that crate's tests.
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod binary;
mod capture;
mod chromium;
mod connector;
pub mod h2_peer;
pub mod http1_peer;
pub mod http1_raw;
pub mod requests;
pub use capture::{http2_paths, Capture};
pub use chromium::{decode_png, Chromium, Rendered, Screenshot};
pub use connector::PlainConnector;

use httplab_core::Scenario;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The repository root (the workspace that holds `scenarios/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of a scenario file in the repository, e.g. `scenario_path("quickstart")`.
pub fn scenario_path(name: &str) -> PathBuf {
    repo_root().join("scenarios").join(format!("{name}.toml"))
}

/// Loads and validates a scenario file from the repository.
pub fn scenario(name: &str) -> Scenario {
    let path = scenario_path(name);
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Scenario::parse(&source, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses a scenario written inline in a test.
pub fn inline_scenario(toml: &str) -> Scenario {
    Scenario::parse(toml, "inline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// A new empty folder under the system temp dir, unique to this process and call.
pub fn temp_dir(label: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "httplab-test-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A [`temp_dir`] removed (with everything in it) when dropped, for folders that hold what
/// should not outlive the test, such as private keys.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        Self(temp_dir(label))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first `len` bytes the lab server sends as a body: its filler line, repeated. Written
/// out here rather than taken from the server, so the tests check its bodies against an
/// independent copy.
pub fn expected_filler(len: usize) -> Vec<u8> {
    let line = b"httplab-filler-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ\n";
    (0..len).map(|i| line[i % line.len()]).collect()
}

/// Whether the tests run under CI, where a missing peer is a failure rather than a skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Finds an outside tool on PATH. Missing: under CI, panics; otherwise prints a loud SKIP line
/// naming the test and how to install the tool, and returns `None` so the test can return.
pub fn require_tool(tool: &str, test: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let msg = format!("{test}: `{tool}` not found on PATH (install: {install})");
        if under_ci() {
            panic!("CI=true and {msg}");
        }
        eprintln!("\n**************** SKIP: {msg} ****************\n");
    }
    found
}

/// The npm prefix holding `node_modules/har-validator` (`.ci/run` installs it into
/// `target/har-validator`; `HAR_VALIDATOR_DIR` overrides), checked like [`require_tool`].
pub fn har_validator(test: &str) -> Option<PathBuf> {
    let install = "npm install --prefix target/har-validator har-validator@5.1.5";
    require_tool("node", test, "apt-get install nodejs")?;
    let dir = std::env::var_os("HAR_VALIDATOR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/har-validator"));
    if dir.join("node_modules/har-validator").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "{test}: har-validator not found in {} (install: {install})",
        dir.display()
    );
    if under_ci() {
        panic!("CI=true and {msg}");
    }
    eprintln!("\n**************** SKIP: {msg} ****************\n");
    None
}

/// Validates HAR files with har-validator (an implementation of the HAR 1.2 JSON schema that
/// no one here wrote); panics with its complaints. Returns false when it had to skip.
pub fn validate_har_files(test: &str, files: &[PathBuf]) -> bool {
    let Some(prefix) = har_validator(test) else {
        return false;
    };
    let script = "const v = require('har-validator'); const fs = require('fs');\
        Promise.all(process.argv.slice(1).map(f => v.har(JSON.parse(fs.readFileSync(f)))))\
        .then(() => console.log('valid'))\
        .catch(e => { console.error(JSON.stringify(e.errors || e.message)); process.exit(1); });";
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .args(files)
        .env("NODE_PATH", prefix.join("node_modules"))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "har-validator rejected {files:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// A process killed when dropped, so no server outlives its test.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private nginx serving `www` (a folder) on a free loopback port, in the foreground, with
/// its config, logs and temp files under `dir`; `None` (after a SKIP line) when nginx is missing.
pub struct Nginx {
    pub port: u16,
    pub dir: PathBuf,
    _process: KillOnDrop,
}

impl Nginx {
    /// Plain HTTP/1.x on the port.
    pub fn start(test: &str, www: &Path, extra_server_config: &str) -> Option<Nginx> {
        Self::start_with_listen(test, www, "", extra_server_config)
    }

    /// HTTPS with HTTP/2 (ALPN h2 and http/1.1) on the port, with the given certificate chain
    /// and key (nginx 1.22 syntax: `listen … ssl http2`).
    pub fn start_tls(test: &str, www: &Path, cert: &Path, key: &Path) -> Option<Nginx> {
        let config = format!(
            "    ssl_certificate {};\n    ssl_certificate_key {};\n",
            cert.display(),
            key.display()
        );
        Self::start_with_listen(test, www, " ssl http2", &config)
    }

    fn start_with_listen(
        test: &str,
        www: &Path,
        listen_options: &str,
        extra_server_config: &str,
    ) -> Option<Nginx> {
        // Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
        let binary = Some(PathBuf::from("/usr/sbin/nginx"))
            .filter(|p| p.is_file())
            .or_else(|| require_tool("nginx", test, "apt-get install nginx"))?;
        let dir = temp_dir("nginx");
        let port = free_port();
        let config = nginx_config(
            &dir,
            www,
            &format!("127.0.0.1:{port}{listen_options}"),
            extra_server_config,
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let child = std::process::Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let process = KillOnDrop(child);
        // Bounded wait until it accepts connections.
        for _ in 0..250 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Nginx {
                    port,
                    dir,
                    _process: process,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        panic!("nginx did not listen on 127.0.0.1:{port} within 5 s:\n{log}");
    }
}

/// An nginx.conf for a private nginx in the foreground, one process, its pid, logs and temp
/// files under `dir`, serving `www` on `listen` (e.g. `127.0.0.1:8080`, `8443 ssl http2`) with
/// `extra_server_config` lines in its server block.
pub fn nginx_config(dir: &Path, www: &Path, listen: &str, extra_server_config: &str) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n  keepalive_requests 10000;\n  server {{\n    listen {listen};\n\
         root {www};\n{extra_server_config}\n  }}\n}}\n",
        www = www.display()
    )
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Starts `BINARY serve scenarios/SCENARIO.toml --listen 127.0.0.1:0` (with `--tls` and
/// `HTTPLAB_CERTS` when `certs` is given) and returns the process with the port from its first
/// line, "serving … on SCHEME://HOST:PORT". Its later output is drained, so its writes never
/// meet a full or closed pipe. `binary` is the test's `env!("CARGO_BIN_EXE_httplab")`.
pub fn serve(binary: &Path, scenario: &str, certs: Option<&Path>) -> (KillOnDrop, u16) {
    serve_file(binary, &scenario_path(scenario), certs)
}

/// [`serve`] for the scenario file at `path`.
pub fn serve_file(binary: &Path, path: &Path, certs: Option<&Path>) -> (KillOnDrop, u16) {
    serve_file_with(binary, path, certs, &[])
}

/// [`serve_file`] with `env` added to the server's environment.
pub fn serve_file_with(
    binary: &Path,
    path: &Path,
    certs: Option<&Path>,
    env: &[(&str, &str)],
) -> (KillOnDrop, u16) {
    use std::io::BufRead;
    let mut command = std::process::Command::new(binary);
    command.envs(env.iter().copied());
    command.args([
        "serve",
        path.to_str().expect("utf-8 path"),
        "--listen",
        "127.0.0.1:0",
    ]);
    if let Some(certs) = certs {
        command.arg("--tls").env("HTTPLAB_CERTS", certs);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("httplab serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let child = KillOnDrop(child);
    let mut stdout = std::io::BufReader::new(stdout);
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first stdout line");
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    assert!(line.starts_with("serving "), "{line:?}");
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

/// Whether this host can run the link emulator (root and `/dev/net/tun`). When it cannot:
/// under CI, panics; otherwise prints a loud SKIP line naming the test and returns `false`.
/// (The emulator's own `probe` gives the full diagnosis; this is the tests' cheap gate.)
pub fn require_link(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false);
    let tun = Path::new("/dev/net/tun").exists();
    if root && tun {
        return true;
    }
    let msg = format!(
        "{test}: the link emulator needs root and /dev/net/tun (root: {root}, /dev/net/tun: {tun})"
    );
    if under_ci() {
        panic!("CI=true and {msg}");
    }
    eprintln!("\n**************** SKIP: {msg} ****************\n");
    false
}
