#!/usr/bin/env python3
"""h2load parity, measured in one go on this machine (issue 16).

Two comparisons, each on the same server in the same run:

1. The lab's server against nginx: h2load drives `httplab serve` and nginx with the same
   settings (the README's table).
2. The lab's load client against h2load: `httplab load --target` (closed model, a one-resource
   page, one connection per user) and h2load drive the same server (the lab's, then nginx).

Each run also measures CPU time per request, of its client (h2load or `httplab load`, from
the process's own rusage) and of the server (from /proc, the server's process and its
children): CPU cost does not drift with the machine's speed the way req/s does, so its ratios
are the steadier comparison where req/s moves from run to run by more than the gaps measured.

On the h2c row a third client runs too: the h2 crate alone loading the same page with the same
request fields, without the lab's timing, records or metering (crates/h2/examples/bare_h2.rs).
Its ratio to h2load is what any client on the h2 crate reaches here, so the distance from it
to `httplab load`'s is the lab's own cost.

Workloads: HTTP/1.1 keep-alive; HTTP/1.1 pipelined, depth 10; h2c and h2 over TLS with 10
streams; `Connection: close` (the lab's HTTP/1.0 client, a connection per request). The
resource is 100 bytes. Servers run on CPU 1 and clients on CPU 0 (taskset), one process and one
thread each (nginx: one worker). Each figure is the median of --reps runs of --seconds, and each
ratio the median of the repetitions' own ratios (the four runs of a repetition go back to back;
the two runs of each client ratio are adjacent, in alternating order).

Usage: python3 benches/parity.py [--seconds 5] [--reps 5] [--connections 10] [--only PROTOCOL]
Needs: the release binary (built here), nginx and h2load (Debian: nginx, nghttp2-client).
Everything listens on 127.0.0.1; every process started here is stopped by its PID.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "httplab")
# The h2 crate alone loading the same page (crates/h2/examples/bare_h2.rs): on the h2c row it
# says how much of the lab client's cost is the crate's.
BARE = os.path.join(ROOT, "target", "release", "examples", "bare_h2")
CERTS = os.path.join(ROOT, "certs")
BODY = 100
STREAMS = 10

SCENARIO = f"""# One 100-byte resource: the parity bench's page (benches/parity.py).
name = "parity"
protocols = ["http1.1"]

[client]
max_connections_per_host = 1
pipeline_connections = 1

[server]
think = "0ms"

[[resource]]
path = "/r"
size = "{BODY}b"
"""

# Ten such resources: a user keeps 10 requests in flight on its one connection.
SCENARIO_10 = SCENARIO.replace('name = "parity"', 'name = "parity-10"').replace(
    'path = "/r"', 'path = "/r{i}"\ncount = 10'
)
# What the servers serve: both pages' resources.
SERVED = SCENARIO + f"""
[[resource]]
path = "/r{{i}}"
count = 10
size = "{BODY}b"
"""

# (label, h2load flags, lab protocol, lab scenario, server port key)
WORKLOADS = [
    ("HTTP/1.1 keep-alive", ["--h1", "-m", "1"], "http1.1", "one", "plain"),
    ("pipelined, depth 10", ["--h1", "-m", str(STREAMS)], "http1.1-pipelined", "ten", "plain"),
    ("h2c, 10 streams", ["-m", str(STREAMS)], "h2c", "ten", "h2c"),
    ("h2 over TLS, 10 streams", ["-m", str(STREAMS)], "h2", "ten", "tls"),
    ("Connection: close", ["--h1", "-m", "1", "-H", "Connection: close"], "http1.0", "one", "plain"),
]


TICK = os.sysconf("SC_CLK_TCK")


def cpu_of_tree(pid):
    """CPU seconds (user + system) of `pid` and every process under it, from /proc."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Run:
    """One measurement: req/s, the requests done, and the CPU seconds of client and server."""

    def __init__(self, rps, requests, client_cpu, server_cpu):
        self.rps, self.requests = rps, requests
        self.client_cpu, self.server_cpu = client_cpu, server_cpu

    def client_us(self):
        return 1e6 * self.client_cpu / self.requests

    def server_us(self):
        return 1e6 * self.server_cpu / self.requests


def measured(server_pid, run):
    """Runs `run` (a client, returning (req/s, requests)) and takes both sides' CPU time."""
    client0, server0 = children_cpu(), cpu_of_tree(server_pid)
    rps, requests = run()
    return Run(rps, requests, children_cpu() - client0, cpu_of_tree(server_pid) - server0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing accepted on 127.0.0.1:{port} within {seconds} s")


class Servers:
    """`httplab serve` (cleartext and TLS) and nginx (cleartext, h2c, TLS), all on CPU 1."""

    def __init__(self):
        self.procs = []
        self.lab = self.nginx = {}
        # The process serving each port key, for its CPU time.
        self.lab_pid = self.nginx_pid = {}

    def start_all(self, work):
        """Starts every server and waits until each accepts."""
        scenario = os.path.join(work, "served.toml")
        with open(scenario, "w") as f:
            f.write(SERVED)
        www = os.path.join(work, "www")
        os.makedirs(www, exist_ok=True)
        for name in ["r"] + [f"r{i}" for i in range(1, 11)]:
            with open(os.path.join(www, name), "wb") as f:
                f.write(b"x" * BODY)
        # The lab serves h1 and h2c on its cleartext port (the preface decides).
        plain, tls = free_port(), free_port()
        self.start(["taskset", "-c", "1", BIN, "serve", scenario, "--listen", f"127.0.0.1:{plain}"])
        self.start(["taskset", "-c", "1", BIN, "serve", scenario, "--listen", f"127.0.0.1:{tls}",
                    "--tls"])
        self.lab = {"plain": plain, "h2c": plain, "tls": tls}
        lab_plain, lab_tls = self.procs[-2].pid, self.procs[-1].pid
        self.lab_pid = {"plain": lab_plain, "h2c": lab_plain, "tls": lab_tls}
        n_plain, n_h2c, n_tls = free_port(), free_port(), free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    http2_max_concurrent_streams 128;
    server {{ listen 127.0.0.1:{n_plain}; root {www}; }}
    server {{ listen 127.0.0.1:{n_h2c} http2; root {www}; }}
    server {{
        listen 127.0.0.1:{n_tls} ssl http2;
        ssl_certificate {CERTS}/localhost.pem;
        ssl_certificate_key {CERTS}/localhost.key;
        ssl_protocols TLSv1.3;
        root {www};
    }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.start(["taskset", "-c", "1", nginx, "-c", conf, "-p", work])
        self.nginx = {"plain": n_plain, "h2c": n_h2c, "tls": n_tls}
        # The master and its one worker (taskset execs nginx in place).
        self.nginx_pid = dict.fromkeys(self.nginx, self.procs[-1].pid)
        for port in list(self.lab.values()) + list(self.nginx.values()):
            wait_port(port)

    def start(self, argv):
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def url(ports, key):
    if key == "tls":
        return f"https://localhost:{ports['tls']}/r"
    return f"http://127.0.0.1:{ports[key]}/r"


def h2load(flags, target, seconds, connections):
    # With `Connection: close`, h2load's timed mode (-D) hangs once the server closes; a
    # request count of about the run's length at nginx's rate (~30k/s here) runs instead.
    span = ["-n", str(30_000 * seconds)] if "Connection: close" in flags else ["-D", str(seconds)]
    argv = ["taskset", "-c", "0", "h2load", "-t", "1", "-c", str(connections),
            *span, *flags, target]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"finished in [^,]+, ([\d.]+) req/s", out.stdout)
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed",
                   out.stdout)
    if not m or not ok or int(ok.group(1)) == 0:
        sys.exit(f"h2load {' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), int(ok.group(1))


def lab_load(work, protocol, scenario, target, seconds, connections):
    out_dir = os.path.join(work, f"lab-{protocol}-{time.monotonic_ns()}")
    argv = ["taskset", "-c", "0", BIN, "load", os.path.join(work, f"{scenario}.toml"),
            "--users", str(connections), "--duration", f"{seconds}s", "--warmup", "1s",
            "--protocols", protocol, "--target", target.rsplit("/", 1)[0],
            "--quiet", "--out", out_dir]
    if target.startswith("https"):
        argv += ["--cacert", os.path.join(CERTS, "ca.pem")]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{out.stderr}")
    with open(os.path.join(out_dir, "load.json")) as f:
        p = json.load(f)["protocols"][0]
    shutil.rmtree(out_dir, ignore_errors=True)
    # Every request the process made, warm-up included (its CPU time covers them all): the
    # pages of every second, times the page's resources.
    per_page = STREAMS if scenario == "ten" else 1
    pages = sum(second["pages"] for second in p["seconds"])
    return p["requests_per_s"], pages * per_page


def bare_load(target, seconds, connections):
    """The h2 crate alone (h2c, no timing or records) loading the ten-resource page."""
    host = target.split("//", 1)[1].split("/", 1)[0]
    argv = ["taskset", "-c", "0", BARE, host, str(connections), str(seconds), "1"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"req/s ([\d.]+) total (\d+)", out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"{' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), int(m.group(2))


def median(values):
    return statistics.median(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--only", metavar="PROTOCOL", action="append",
                    choices=[w[2] for w in WORKLOADS],
                    help="run only the row of this lab protocol; repeatable")
    args = ap.parse_args()
    for tool in ("h2load", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (Debian: nghttp2-client, util-linux)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "httplab"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "httplab-h2", "--example",
                    "bare_h2"], cwd=ROOT, check=True)
    if not os.path.exists(os.path.join(CERTS, "localhost.pem")):
        # The lab writes its CA and leaf on first use.
        subprocess.run([BIN, "check", os.path.join(ROOT, "scenarios", "quickstart.toml")],
                       cwd=ROOT, check=True, capture_output=True)
    work = tempfile.mkdtemp(prefix="httplab-parity-")
    # nginx's worker reads the files as an unprivileged user.
    os.chmod(work, 0o755)
    with open(os.path.join(work, "one.toml"), "w") as f:
        f.write(SCENARIO)
    with open(os.path.join(work, "ten.toml"), "w") as f:
        f.write(SCENARIO_10)
    servers = Servers()
    s, n, c = args.seconds, args.reps, args.connections
    rows, costs, bare = [], [], None
    try:
        servers.start_all(work)
        for label, flags, protocol, scenario, key in WORKLOADS:
            if args.only and protocol not in args.only:
                continue
            # The four measurements of a repetition run back to back, and each ratio is taken
            # within a repetition: the machine's drift from one minute to the next (seen here:
            # 20% between runs of the same command) cancels out of the ratios. Each client
            # ratio compares two adjacent runs on one server, and every other repetition runs
            # them in the opposite order, so a drift within a repetition favours neither.
            reps = []
            for rep in range(n):
                on_nginx = lambda: measured(
                    servers.nginx_pid[key], lambda: h2load(flags, url(servers.nginx, key), s, c))
                on_lab = lambda: measured(
                    servers.lab_pid[key], lambda: h2load(flags, url(servers.lab, key), s, c))
                client_on_lab = lambda: measured(servers.lab_pid[key], lambda: lab_load(
                    work, protocol, scenario, url(servers.lab, key), s, c))
                client_on_nginx = lambda: measured(servers.nginx_pid[key], lambda: lab_load(
                    work, protocol, scenario, url(servers.nginx, key), s, c))
                # h2c only: the h2 crate alone, next to the lab's client.
                crate = (lambda: measured(servers.lab_pid[key], lambda: bare_load(
                    url(servers.lab, key), s, c))) if protocol == "h2c" else (lambda: None)
                if rep % 2 == 0:
                    nginx, client_nginx = on_nginx(), client_on_nginx()
                    lab, client_lab, crate_lab = on_lab(), client_on_lab(), crate()
                else:
                    crate_lab, client_lab, lab = crate(), client_on_lab(), on_lab()
                    client_nginx, nginx = client_on_nginx(), on_nginx()
                reps.append((nginx, lab, client_lab, client_nginx, crate_lab))
            column = lambda i: median([r[i].rps for r in reps])
            ratio = lambda i, j: median([r[i].rps / r[j].rps for r in reps])
            rows.append((label, column(0), column(1), ratio(1, 0), column(2), ratio(2, 1),
                         column(3), ratio(3, 0)))
            # CPU per request: the servers under h2load, the clients against the lab's server.
            cost = lambda i, f: median([f(r[i]) for r in reps])
            parity = lambda i, j, f: median([f(r[j]) / f(r[i]) for r in reps])
            costs.append((label, cost(0, Run.server_us), cost(1, Run.server_us),
                          parity(1, 0, Run.server_us), cost(1, Run.client_us),
                          cost(2, Run.client_us), parity(2, 1, Run.client_us)))
            if protocol == "h2c":
                bare = (column(1), column(4), ratio(4, 1), column(2), ratio(2, 1),
                        cost(1, Run.client_us), cost(4, Run.client_us), cost(2, Run.client_us))
            print(f"  {label}: done", file=sys.stderr)
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{c} connections, {BODY} B resource, median of {n} x {s} s (ratios: the median of "
          "each repetition's ratio); servers on CPU 1, clients on CPU 0\n")
    print("The lab's server against nginx (h2load drives both):\n")
    print("| workload | nginx | `httplab serve` | ratio |\n|---|---|---|---|")
    for label, nginx, lab, r_server, _, _, _, _ in rows:
        print(f"| {label} | {nginx / 1000:.0f}k | {lab / 1000:.0f}k | {r_server:.2f} |")
    print("\nThe lab's load client against h2load (req/s on the same server):\n")
    print("| workload | h2load -> serve | `httplab load` -> serve | ratio | h2load -> nginx | "
          "`httplab load` -> nginx | ratio |\n|---|---|---|---|---|---|---|")
    for label, nginx, lab, _, client_lab, r_lab, client_nginx, r_nginx in rows:
        print(f"| {label} | {lab / 1000:.0f}k | {client_lab / 1000:.0f}k | {r_lab:.2f} | "
              f"{nginx / 1000:.0f}k | {client_nginx / 1000:.0f}k | {r_nginx:.2f} |")
    print("\nCPU time per request, in microseconds (user + system; ratio: the peer's cost over "
          "the lab's, so above 1 the lab spends less, and a CPU-bound run's req/s ratio would "
          "read the same):\n")
    print("| workload | nginx | `httplab serve` | ratio | h2load | `httplab load` | ratio |\n"
          "|---|---|---|---|---|---|---|")
    for label, nginx, serve, r_server, h2l, load, r_client in costs:
        print(f"| {label} | {nginx:.1f} | {serve:.1f} | {r_server:.2f} | {h2l:.1f} | "
              f"{load:.1f} | {r_client:.2f} |")
    if bare:
        h2l, crate_rps, r_crate, lab_rps, r_lab, h2l_us, crate_us, lab_us = bare
        print("\nh2c against `httplab serve`: h2load, the h2 crate alone (the same page and fields, "
              "no timing or records: crates/h2/examples/bare_h2.rs) and `httplab load`:\n")
        print("| client | req/s | ratio to h2load | CPU µs per request |\n|---|---|---|---|")
        print(f"| h2load | {h2l / 1000:.0f}k | 1 | {h2l_us:.1f} |")
        print(f"| h2 crate alone | {crate_rps / 1000:.0f}k | {r_crate:.2f} | {crate_us:.1f} |")
        print(f"| `httplab load` | {lab_rps / 1000:.0f}k | {r_lab:.2f} | {lab_us:.1f} |")
    # Issue 16's bars: the server at 0.95x nginx on every row; the client, against `httplab
    # serve`, at 0.9x h2load on HTTP/1.1 keep-alive, pipelined and h2 (the lab's `h2`, over
    # TLS). The h2c client's ratio is printed beside the h2 crate's alone, not judged: on that row
    # the lab's server answers faster than one core of the h2 crate alone asks (0.86-1.00 of
    # h2load), so the crate's own cost decides it (see the README).
    print("\nThe bars (issue 16):\n")
    every = True
    for label, _, _, r_server, _, r_lab, _, _ in rows:
        verdicts = [f"server {r_server:.2f} {'>=' if r_server >= 0.95 else '<'} 0.95"]
        judged = label not in ("Connection: close", "h2c, 10 streams")
        if judged:
            verdicts.append(f"client {r_lab:.2f} {'>=' if r_lab >= 0.9 else '<'} 0.9")
        elif label.startswith("h2c") and bare:
            verdicts.append(f"client {r_lab:.2f}, the h2 crate alone {bare[2]:.2f} (no bar)")
        met = r_server >= 0.95 and (not judged or r_lab >= 0.9)
        every = every and met
        print(f"- {label}: {'; '.join(verdicts)}: {'met' if met else 'NOT MET'}")
    if {r[0] for r in rows} == {w[0] for w in WORKLOADS}:
        print(f"\nEvery bar of issue 16 in this run: {'met' if every else 'NOT MET'}")


if __name__ == "__main__":
    main()
