"""pytest-tether: a local AWS IoT Core (`tether serve`) for pytest.

The plugin (`pytest_tether.plugin`, registered through the `pytest11` entry point) starts the
`tether` binary with `--ephemeral --ready-file --exit-with-parent` and gives tests fixtures:
`tether`, `tether_iot`, `tether_iot_data`, `tether_device` and `tether_mqtt5`. `TetherServer`
is usable without pytest, e.g. in a script: `TetherServer.start()` … `server.stop()`.
"""

from .server import Device, TetherError, TetherServer, find_binary

__all__ = ["Device", "TetherError", "TetherServer", "find_binary"]
