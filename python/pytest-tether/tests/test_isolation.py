"""Two tests at the same time, each with its own tether server.

Each test is marked `@pytest.mark.tether(scope="test")` and sits in its own xdist group; under
`pytest -n 2 --dist loadgroup` (this package's pytest settings) the first two work units go to
the two workers, and these are collected first, so they start together. They meet at a
rendezvous in the session's shared temporary directory (waiting, with a deadline, for the
other's record), then check that the two servers are different processes on different ports
with different registries, both alive at once.
"""

import json
import os
import time

import pytest

#: How long a test waits for the other one.
DEADLINE = 60.0


def rendezvous(directory, stage, me, record):
    """Writes this test's record for `stage` and waits for the other test's; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    mine = directory / f"{stage}-{me}.json"
    temporary = mine.with_suffix(".tmp")
    temporary.write_text(json.dumps(record))
    temporary.rename(mine)
    deadline = time.monotonic() + DEADLINE
    while True:
        others = [p for p in directory.glob(f"{stage}-*.json") if p != mine]
        if others:
            return json.loads(others[0].read_text())
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the other parallel test did not reach {stage!r} within {DEADLINE:.0f} s: "
                "run these tests with pytest -n 2 --dist loadgroup"
            )
        time.sleep(0.05)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_beside_the_other(me, tether, tether_iot, tmp_path_factory, worker_id):
    if worker_id == "master":
        pytest.skip("needs two xdist workers: pytest -n 2 --dist loadgroup")
    probe = f"probe-{me}"
    assert [t["thingName"] for t in tether_iot.list_things()["things"]] == ["demo-device"]
    tether_iot.create_thing(thingName=probe)

    shared = tmp_path_factory.getbasetemp().parent / "tether-parallel"
    record = {"pid": tether.pid, "mqtts_port": tether.mqtts_port, "api_url": tether.api_url,
              "data_dir": str(tether.data_dir), "probe": probe, "worker": worker_id}
    other = rendezvous(shared, "started", me, record)

    assert other["worker"] != worker_id
    assert other["pid"] != tether.pid
    assert other["mqtts_port"] != tether.mqtts_port
    assert other["api_url"] != tether.api_url
    assert other["data_dir"] != str(tether.data_dir)
    assert alive(tether.pid) and alive(other["pid"]), "both servers run at the same time"
    names = {t["thingName"] for t in tether_iot.list_things()["things"]}
    assert names == {"demo-device", probe}, f"{other['probe']} must live on the other server"

    # Neither server stops before both tests have looked at the other's.
    rendezvous(shared, "checked", me, record)


@pytest.mark.tether(scope="test")
@pytest.mark.xdist_group("parallel-a")
def test_one_of_two_parallel_tests_has_its_own_server(tether, tether_iot, tmp_path_factory, worker_id):
    run_beside_the_other("a", tether, tether_iot, tmp_path_factory, worker_id)


@pytest.mark.tether(scope="test")
@pytest.mark.xdist_group("parallel-b")
def test_the_other_parallel_test_has_its_own_server(tether, tether_iot, tmp_path_factory, worker_id):
    run_beside_the_other("b", tether, tether_iot, tmp_path_factory, worker_id)
