"""The lab fabric on this machine, for real: what Pulumi's parallel resource creation does to it."""

from __future__ import annotations

import subprocess
import threading

import pytest

from govnet.lab import fabric, layout
from govnet.lab.system import link_exists
from lab_support import require_tools

pytestmark = pytest.mark.lab

LAB = "gv-fabric-test"  # a lab of its own: nothing but its switch namespace, removed afterwards


@pytest.fixture
def switch():
    require_tools("ip")
    ns = layout.switch_netns(LAB)
    fabric.ensure_netns(ns)
    try:
        yield ns
    finally:
        fabric.remove_netns(ns)


def test_ports_of_one_segment_plugged_at_once_share_its_bridge(switch):
    """Pulumi plugs the ports of a LAN segment in parallel: each makes the segment's bridge if it
    is missing, and none may fail because another made it first (smoke-town's first provisioning
    once did: 'RTNETLINK answers: File exists')."""
    for attempt in range(10):
        segment = f"site{attempt}:intranet"
        start, errors = threading.Barrier(8), []

        def plug(segment=segment, start=start, errors=errors):
            start.wait()
            try:
                fabric.ensure_segment(LAB, segment)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=plug) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert link_exists(fabric.segment_bridge(segment), switch)


def test_a_client_is_plugged_removed_and_plugged_again_at_once(switch):
    """A check's PC on a LAN (``fabric.ensure_client``): its cable is on the segment's bridge, and
    right after its removal the same PC can be plugged again (a namespace's veths die after it,
    asynchronously: the cable's name must be free at once)."""
    for _ in range(5):
        ns = fabric.ensure_client(LAB, "pc-test", "site0:intranet", "198.18.255.254/24", "198.18.255.1")
        out = subprocess.run(["ip", "-n", ns, "-br", "addr", "show", "dev", "eth0"],
                             capture_output=True, text=True, check=True).stdout
        assert "198.18.255.254/24" in out
        peer = layout.ifname("client", LAB, "pc-test")
        master = subprocess.run(["ip", "-n", switch, "-j", "link", "show", "dev", peer],
                                capture_output=True, text=True, check=True).stdout
        assert fabric.segment_bridge("site0:intranet") in master
        fabric.remove_client(LAB, "pc-test")
        assert not link_exists(peer, switch)
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                    check=True).stdout
