"""One `tether serve --ephemeral` process and what a test needs from it.

`TetherServer.start` runs the binary with `--ephemeral --ready-file PATH --exit-with-parent`,
waits for its ready line on stdout (no polling, no sleeps), reads the JSON readiness record,
and keeps the server's log. `stop` sends SIGTERM and waits for a clean exit, which removes the
server's data directory. If the test process dies instead, `--exit-with-parent` ends the server
within a fifth of a second, so no broker outlives a crashed run.

It also registers devices through the server's API with boto3 (what a provisioning script
does) and builds awsiotsdk MQTT 5 clients for them. It does not talk to AWS.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Optional, Sequence

#: How long a server may take to print its ready line.
READY_TIMEOUT = 60.0
#: How long a stopping server may take to exit before it is killed.
STOP_TIMEOUT = 15.0


class TetherError(RuntimeError):
    """The server could not be found, did not start, or did not stop cleanly."""


@dataclasses.dataclass(frozen=True)
class Device:
    """A registered device: its thing, certificate, policy and files, and where to connect."""

    thing_name: str
    certificate: Path
    private_key: Path
    root_ca: Path
    endpoint: str
    port: int
    thing_arn: str = ""
    certificate_id: str = ""
    certificate_arn: str = ""
    policy_name: str = ""
    public_key: Optional[Path] = None

    @property
    def client_id(self) -> str:
        """The client id AWS IoT expects for the thing: its name."""
        return self.thing_name


def find_binary(explicit: Optional[str] = None) -> str:
    """The tether binary: `explicit`, else $TETHER_BIN, else `tether` on PATH."""
    candidate = explicit or os.environ.get("TETHER_BIN")
    if candidate:
        path = Path(candidate).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TetherError(
                f"the tether binary {candidate} does not exist or is not executable; "
                "pass --tether-bin PATH or set TETHER_BIN"
            )
        return str(path)
    found = shutil.which("tether")
    if found is None:
        raise TetherError(
            "no tether binary on PATH: install it (cargo install --path crates/cli) or pass "
            "--tether-bin PATH (or set TETHER_BIN)"
        )
    return found


def default_policy(region: str, account_id: str) -> str:
    """Connect as its own thing only; publish, receive and subscribe anywhere."""
    arn = f"arn:aws:iot:{region}:{account_id}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Connect",
                    "Resource": f"{arn}:client/${{iot:Connection.Thing.ThingName}}",
                },
                {
                    "Effect": "Allow",
                    "Action": ["iot:Publish", "iot:Receive", "iot:RetainPublish"],
                    "Resource": f"{arn}:topic/*",
                },
                {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{arn}:topicfilter/*"},
            ],
        }
    )


def thing_name_for(label: str) -> str:
    """A fresh thing name derived from `label` (a test's name): AWS's characters, unique."""
    base = re.sub(r"[^a-zA-Z0-9:_-]+", "-", label).strip("-")[:100] or "device"
    return f"{base}-{uuid.uuid4().hex[:8]}"


class TetherServer:
    """A running `tether serve --ephemeral`.

    Attributes come from its readiness record (`ready`, the parsed JSON): `api_url`,
    `region`, `access_key_id`, `secret_access_key`, `mqtts_host`, `mqtts_port`, `root_ca`,
    `demo_device`, `data_dir`, `pid`.
    """

    def __init__(self, process: subprocess.Popen, ready: dict, workdir: Path, log: list):
        self.process = process
        self.ready = ready
        self.workdir = workdir
        self._log = log
        self._clients: dict = {}
        mqtts = ready["endpoints"]["mqtts"]
        credentials = ready.get("credentials") or {}
        self.api_url: str = ready["api_url"]
        self.region: str = ready["region"]
        self.account_id: str = ready["account_id"]
        self.access_key_id: str = credentials.get("access_key_id", "")
        self.secret_access_key: str = credentials.get("secret_access_key", "")
        self.mqtts_host: str = mqtts["host"]
        self.mqtts_port: int = mqtts["port"]
        self.root_ca = Path(ready["root_ca"])
        self.data_dir = Path(ready["data_dir"])
        self.pid: int = ready["pid"]
        demo = ready["demo_device"]
        self.demo_device = Device(
            thing_name=demo["thing_name"],
            certificate=Path(demo["certificate"]),
            private_key=Path(demo["private_key"]),
            public_key=Path(demo["public_key"]),
            root_ca=Path(demo["root_ca"]),
            endpoint=self.mqtts_host,
            port=self.mqtts_port,
            policy_name="tether-dev-allow-all",
        )

    @classmethod
    def start(
        cls,
        binary: Optional[str] = None,
        args: Sequence[str] = (),
        timeout: float = READY_TIMEOUT,
    ) -> "TetherServer":
        """Starts `tether serve --ephemeral` with `args` and waits for it to be ready."""
        binary = find_binary(binary)
        workdir = Path(tempfile.mkdtemp(prefix="pytest-tether-"))
        ready_file = workdir / "ready.json"
        command = [
            binary,
            "serve",
            "--ephemeral",
            "--ready-file",
            str(ready_file),
            "--exit-with-parent",
            *args,
        ]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        log: list = []
        events: queue.Queue = queue.Queue()

        def read_stdout():
            for line in process.stdout:
                if line.startswith("tether ready"):
                    events.put("ready")
            events.put("exited")

        def read_stderr():
            for line in process.stderr:
                log.append(line.rstrip("\n"))

        threading.Thread(target=read_stdout, daemon=True).start()
        threading.Thread(target=read_stderr, daemon=True).start()
        try:
            event = events.get(timeout=timeout)
        except queue.Empty:
            event = "timed out"
        if event != "ready":
            process.kill()
            process.wait()
            shutil.rmtree(workdir, ignore_errors=True)
            raise TetherError(
                f"{' '.join(command)} was not ready ({event}, exit status "
                f"{process.returncode}); its log:\n" + "\n".join(log)
            )
        ready = json.loads(ready_file.read_text())
        return cls(process, ready, workdir, log)

    def logs(self) -> str:
        """The server's log so far."""
        return "\n".join(self._log)

    def stop(self) -> None:
        """SIGTERM, then wait for a clean exit (which removes the data directory)."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                    raise TetherError(
                        f"tether (pid {self.pid}) did not stop within {STOP_TIMEOUT:.0f} s of "
                        "SIGTERM and was killed; its log:\n" + self.logs()
                    )
            if self.process.returncode != 0:
                raise TetherError(
                    f"tether (pid {self.pid}) exited with status {self.process.returncode}; "
                    "its log:\n" + self.logs()
                )
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # Clients.

    def boto3_client(self, service: str, **kwargs: Any):
        """A boto3 client of `service` (`iot`, `iot-data`, …) for this server. Clients without
        extra `kwargs` are made once per server and shared (boto3 clients are thread-safe, and
        making one reads its service model, a good part of a second)."""
        import boto3

        if not kwargs and service in self._clients:
            return self._clients[service]
        options = dict(
            endpoint_url=self.api_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )
        options.update(kwargs)
        client = boto3.session.Session().client(service, **options)
        if not kwargs:
            self._clients[service] = client
        return client

    def create_device(
        self,
        name: Optional[str] = None,
        directory: Optional[Path] = None,
        policy: Optional[str] = None,
    ) -> Device:
        """Registers a device through the API as a provisioning script would: CreateThing,
        CreateKeysAndCertificate (ACTIVE), CreatePolicy, AttachPolicy, AttachThingPrincipal.
        Writes its files to `directory` (default: a new one under the server's work
        directory) with the private key at mode 0600."""
        name = name or thing_name_for("device")
        iot = self.boto3_client("iot")
        thing = iot.create_thing(thingName=name)
        keys = iot.create_keys_and_certificate(setAsActive=True)
        policy_name = f"{name}-policy"
        iot.create_policy(
            policyName=policy_name,
            policyDocument=policy or default_policy(self.region, self.account_id),
        )
        iot.attach_policy(policyName=policy_name, target=keys["certificateArn"])
        iot.attach_thing_principal(thingName=name, principal=keys["certificateArn"])

        directory = Path(directory) if directory else self.workdir / "devices" / name
        directory.mkdir(parents=True, exist_ok=True)
        certificate = directory / "certificate.pem.crt"
        private_key = directory / "private.pem.key"
        public_key = directory / "public.pem.key"
        root_ca = directory / "root-ca.pem"
        certificate.write_text(keys["certificatePem"])
        descriptor = os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(keys["keyPair"]["PrivateKey"])
        public_key.write_text(keys["keyPair"]["PublicKey"])
        shutil.copyfile(self.root_ca, root_ca)
        return Device(
            thing_name=name,
            thing_arn=thing["thingArn"],
            certificate_id=keys["certificateId"],
            certificate_arn=keys["certificateArn"],
            policy_name=policy_name,
            certificate=certificate,
            private_key=private_key,
            public_key=public_key,
            root_ca=root_ca,
            endpoint=self.mqtts_host,
            port=self.mqtts_port,
        )

    def mqtt5_client(self, device: Device, client_id: Optional[str] = None, **kwargs: Any):
        """An awsiotsdk MQTT 5 client (not started) for `device` on this server: mutual TLS,
        client id the thing name unless given. `kwargs` go to
        `awsiot.mqtt5_client_builder.mtls_from_path` (lifecycle callbacks, on_publish_received,
        session settings)."""
        from awsiot import mqtt5_client_builder

        return mqtt5_client_builder.mtls_from_path(
            endpoint=device.endpoint,
            port=device.port,
            cert_filepath=str(device.certificate),
            pri_key_filepath=str(device.private_key),
            ca_filepath=str(device.root_ca),
            client_id=client_id or device.client_id,
            **kwargs,
        )
