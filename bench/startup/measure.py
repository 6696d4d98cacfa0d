"""Measures start-up times for bench/startup/run and prints a Markdown table.

Each sample is one whole process: spawn, then wait until the ready file exists (tether) or
the port accepts a TCP connection (mosquitto), polling every 0.2 ms; then SIGTERM and reap.
Rows are interleaved run by run so that load on the machine affects them alike.
"""

import argparse
import os
import platform
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

POLL = 0.0002
DEADLINE = 30.0


def wait_until(condition, started, process, log):
    while not condition():
        if time.monotonic() - started > DEADLINE or process.poll() is not None:
            process.kill()
            process.wait()
            log.seek(0)
            raise SystemExit(f"{' '.join(process.args)} was not ready (exit status "
                             f"{process.returncode}):\n{log.read().decode(errors='replace')}")
        time.sleep(POLL)
    return time.monotonic() - started


def stop(process, clean=True):
    """SIGTERM and reap; tether must exit 0 (mosquitto may die of the signal: it can arrive
    before mosquitto installs its handler, right after its port opens)."""
    process.send_signal(signal.SIGTERM)
    if process.wait(30) != 0 and clean:
        raise SystemExit(f"{process.args[0]} exited with {process.returncode}")


def tether(binary, work, args):
    ready = Path(work) / "ready.json"
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [binary, "serve", *args, "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        elapsed = wait_until(ready.exists, started, process, log)
        stop(process)
    return elapsed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    def check():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
            return True
        except OSError:
            return False

    return check


def mosquitto(data_dir):
    """mosquitto with a mutual-TLS listener on tether's demo certificates."""
    port = free_port()
    server = Path(data_dir) / "server"
    config = Path(data_dir) / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {Path(data_dir) / 'ca/root-ca.pem'}\n"
        f"certfile {server / 'server-rsa.pem'}\nkeyfile {server / 'server-rsa.key'}\n"
        "require_certificate true\n"
        # Started as root, mosquitto would switch to its own user, who cannot read the
        # temporary directory; as any other user this line does nothing.
        "user root\n"
    )
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=log)
        elapsed = wait_until(accepts(port), started, process, log)
        stop(process, clean=False)
    return elapsed


def row(name, samples, notes):
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return (f"| {name} | {statistics.median(ms):.0f} ms | {p90:.0f} ms | {ms[0]:.0f} ms | "
            f"{ms[-1]:.0f} ms | {notes} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--release", required=True)
    parser.add_argument("--debug", required=True)
    parser.add_argument("--revision", default="?")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as keep:
        # A data directory with keys, for the restart row and mosquitto's certificates.
        existing = Path(keep) / "data"
        tether(args.release, keep, ["--data-dir", str(existing), "--mqtts", "127.0.0.1:0",
                                    "--api", "127.0.0.1:0"])
        rows = {"first": [], "restart": [], "debug": [], "mosquitto": []}
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as work:
                rows["first"].append(tether(args.release, work, ["--ephemeral"]))
            with tempfile.TemporaryDirectory() as work:
                rows["restart"].append(tether(args.release, work, [
                    "--data-dir", str(existing), "--mqtts", "127.0.0.1:0", "--api", "127.0.0.1:0"]))
            with tempfile.TemporaryDirectory() as work:
                rows["debug"].append(tether(args.debug, work, ["--ephemeral"]))
            rows["mosquitto"].append(mosquitto(existing))

    first, restart = statistics.median(rows["first"]), statistics.median(rows["restart"])
    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0]
    print(f"Command: `bench/startup/run` — tether {args.revision}, {os.cpu_count()} cores ({cpu}), "
          f"load average {load:.1f} at the end (the machine is shared), {args.runs} runs per row, "
          "rows interleaved; time from spawning the process to its ready file (tether) or to "
          "its port accepting a TCP connection (mosquitto).\n")
    print("| what starts | median | p90 | min | max | notes |")
    print("|---|---:|---:|---:|---:|---|")
    print(row("`tether serve --ephemeral` (release)", rows["first"],
              "new data dir: CA, 2 server certificates, demo device (3 RSA-2048 + 1 P-256 keys)"))
    print(row("`tether serve --data-dir` restart (release)", rows["restart"],
              "same work minus key generation and issuing: keys and certificates exist"))
    print(row("`tether serve --ephemeral` (debug build)", rows["debug"],
              "what `cargo test` runs, e.g. `tether-testing`'s TestServer"))
    print(row("mosquitto 2 with a mutual-TLS listener", rows["mosquitto"],
              "peer: port accepts; no registry, no keys to make"))
    share = (first - restart) / first * 100 if first else 0
    print(f"\nKeys and certificates are {first * 1000 - restart * 1000:.0f} ms of the "
          f"{first * 1000:.0f} ms median first start ({share:.0f} %).")


if __name__ == "__main__":
    main()
