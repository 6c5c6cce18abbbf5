"""One process runs a node's data plane: a second agent is refused instead of taking it over
(killing the first one's dnsmasq and metadata server), and a dead holder frees it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mallee.node.network import dataplane
from mallee.node.network.dataplane import DataPlane, DataPlaneBusyError


@pytest.fixture(autouse=True)
def holders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "holders"
    monkeypatch.setattr(dataplane, "HOLDERS", path)
    return path


def plane(tmp_path: Path, cloud: str = "0123abcd") -> DataPlane:
    return DataPlane(
        cloud_id=cloud, node_name="node-h", subnet="10.9.8.0/24", data_dir=tmp_path, db_url=""
    )


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path, holders: Path) -> None:
    first = plane(tmp_path)
    first.claim()
    first.claim()  # the holder may ask again
    second = plane(tmp_path / "other")
    with pytest.raises(DataPlaneBusyError, match=f"pid {os.getpid()} "):
        second.claim()
    # Every call that would change the data plane is refused before it changes anything.
    for call in (second.ensure, second.teardown, lambda: second.heal(["i-1"])):
        with pytest.raises(DataPlaneBusyError):
            call()
    assert oct((holders / f"{first.netns}.lock").stat().st_mode & 0o777) == "0o600"
    # Another cloud's plane for a node of the same name is another data plane.
    plane(tmp_path / "cloud2", cloud="89abcdef").claim()
    first.release()
    second.claim()
    # Torn down (no namespace here: nothing else to remove), it leaves no lock file behind.
    lock = holders / f"{second.netns}.lock"
    second.teardown()
    assert not lock.exists()
    first.claim()
    assert lock.exists()


def test_a_dead_holder_frees_it(tmp_path: Path, holders: Path) -> None:
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from mallee.node.network import dataplane
        dataplane.HOLDERS = Path({str(holders)!r})
        p = dataplane.DataPlane(cloud_id="0123abcd", node_name="node-h", subnet="10.9.8.0/24",
                                data_dir=Path({str(tmp_path)!r}), db_url="")
        p.claim()
        print("held", flush=True)
        import time; time.sleep(60)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        mine = plane(tmp_path)
        with pytest.raises(DataPlaneBusyError, match=f"pid {holder.pid} "):
            mine.claim()
    finally:
        holder.kill()  # as a crashed agent: no clean-up of its own
        holder.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            mine.claim()
            break
        except DataPlaneBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
