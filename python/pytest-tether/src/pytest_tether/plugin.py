"""The pytest plugin: options, the `tether` marker and the fixtures.

Fixtures (all function-scoped; the server behind them follows the `tether` marker):

- `tether`: the `TetherServer` for this test — the session's shared one, or a fresh one when
  the test is marked `@pytest.mark.tether(scope="test")` (or given `args=[...]`).
- `tether_iot`, `tether_iot_data`: boto3 clients of `iot` and `iot-data` for it.
- `tether_device`: a device registered for this test (thing, ACTIVE certificate, policy), its
  files under the test's `tmp_path`.
- `tether_mqtt5`: a builder of awsiotsdk MQTT 5 clients pointed at the server; clients it
  built are stopped after the test.

Options: `--tether-bin PATH` (else $TETHER_BIN, else `tether` on PATH) and `--tether-arg ARG`
(repeatable, passed to every `tether serve`); ini keys `tether_bin` and `tether_args`.
"""

from __future__ import annotations

import shlex
from typing import Any, Optional

import pytest

from .server import Device, TetherServer, thing_name_for

MARKER = "tether"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tether", "a local AWS IoT Core (tether serve)")
    group.addoption(
        "--tether-bin",
        default=None,
        metavar="PATH",
        help="the tether binary (default: ini tether_bin, $TETHER_BIN, else tether on PATH)",
    )
    group.addoption(
        "--tether-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra argument for every tether serve (repeatable), e.g. --tether-arg=--profile=mqtt",
    )
    parser.addini("tether_bin", "the tether binary", default=None)
    parser.addini("tether_args", "extra arguments for every tether serve", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(scope='session', args=()): which tether server the test's fixtures use: "
        "scope='session' (default) shares one per test session (per xdist worker); "
        "scope='test' starts one for this test alone; args=[...] adds tether serve arguments "
        "and implies scope='test'.",
    )


def _binary(config: pytest.Config) -> Optional[str]:
    return config.getoption("--tether-bin") or config.getini("tether_bin") or None


def _common_args(config: pytest.Config) -> list:
    args = list(config.getini("tether_args"))
    for arg in config.getoption("--tether-arg"):
        args.extend(shlex.split(arg))
    return args


def _start(config: pytest.Config, extra: Any = ()) -> TetherServer:
    return TetherServer.start(_binary(config), [*_common_args(config), *extra])


@pytest.fixture(scope="session")
def tether_session_server(pytestconfig: pytest.Config):
    """The server shared by the tests of this session (of this xdist worker)."""
    server = _start(pytestconfig)
    yield server
    server.stop()


def _marker_settings(request: pytest.FixtureRequest):
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return "session", ()
    scope = marker.kwargs.get("scope", "session")
    args = tuple(marker.kwargs.get("args", ()))
    if scope not in ("session", "test"):
        raise pytest.UsageError(
            f"@pytest.mark.tether(scope={scope!r}) on {request.node.nodeid}: "
            "scope is 'session' or 'test'"
        )
    return ("test" if args else scope), args


@pytest.fixture
def tether(request: pytest.FixtureRequest):
    """The tether server this test uses (see the `tether` marker)."""
    scope, args = _marker_settings(request)
    if scope == "session":
        yield request.getfixturevalue("tether_session_server")
        return
    server = _start(request.config, args)
    yield server
    server.stop()


@pytest.fixture
def tether_iot(tether: TetherServer):
    """A boto3 `iot` (control plane) client for the test's server."""
    return tether.boto3_client("iot")


@pytest.fixture
def tether_iot_data(tether: TetherServer):
    """A boto3 `iot-data` (data plane: Publish, shadows, retained messages) client."""
    return tether.boto3_client("iot-data")


@pytest.fixture
def tether_device(tether: TetherServer, request: pytest.FixtureRequest, tmp_path) -> Device:
    """A device registered for this test: a fresh thing named after the test, an ACTIVE
    certificate with a policy that lets it connect as itself and use any topic, and its files
    (certificate.pem.crt, private.pem.key, public.pem.key, root-ca.pem) in tmp_path."""
    name = thing_name_for(request.node.name)
    return tether.create_device(name, directory=tmp_path / "tether-device" / name)


@pytest.fixture
def tether_mqtt5(tether: TetherServer, request: pytest.FixtureRequest):
    """Builds awsiotsdk MQTT 5 clients pointed at the server: `tether_mqtt5()` for this test's
    `tether_device`, `tether_mqtt5(device, client_id=..., **builder_kwargs)` for another.
    Clients are returned unstarted; the fixture stops them after the test."""
    built: list = []

    def build(device: Optional[Device] = None, **kwargs: Any):
        device = device or request.getfixturevalue("tether_device")
        client = tether.mqtt5_client(device, **kwargs)
        built.append(client)
        return client

    yield build
    for client in built:
        try:
            client.stop()
        except Exception:  # a client that never started or already stopped
            pass
