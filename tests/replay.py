"""Replay a recorded CLI session (tests/sessions/*.yaml) to a vendor driver, SSH-less.

A :class:`Replay` plays one device: a list of sessions, each a banner and its steps. The driver
gets a :class:`ReplayChannel` for the first session and calls ``connect()`` for every new one
(the confirmation's fresh session, the probes after a change). Every ``send`` must be the next
step's command exactly — anything else raises :class:`ReplayMismatchError` — and ``put`` must name
the recorded file. A step marked ``broken`` kills the session (the change cut the controller
off); an ``unreachable_for: S`` entry refuses new sessions for S seconds of the given clock.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from govnet.netdrivers import Channel, UnreachableError

SESSIONS = Path(__file__).parent / "sessions"


class ReplayMismatchError(AssertionError):
    """The driver typed something the recorded session does not have there."""


class FakeClock:
    """``time.monotonic``/``time.sleep`` that only move when slept: timers run instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0)


class ReplayChannel(Channel):
    def __init__(self, steps: list[dict], replay: Replay):
        self.steps, self.replay, self.i, self.dead = steps, replay, 0, False

    def _next(self, kind: str, what: str) -> dict:
        if self.dead:
            raise UnreachableError("the recorded session is broken")
        if self.i >= len(self.steps):
            raise ReplayMismatchError(f"{kind} {what!r} after the end of the recorded session")
        step = self.steps[self.i]
        self.i += 1
        if step.get(kind) != what:
            want = step.get("send", step.get("put"))
            raise ReplayMismatchError(f"{kind} {what!r}, but the recording has {want!r} "
                                 f"(step {self.i} of {len(self.steps)})")
        self.replay.log.append((kind, what))
        if step.get("broken"):
            self.dead = True
            raise UnreachableError("session broke (recorded)")
        return step

    def send(self, line: str) -> str:
        return self._next("send", line)["reply"]

    def put(self, path: str, text: str) -> None:
        self._next("put", path)
        self.replay.files[path] = text

    def close(self) -> None:
        self.replay.closed += 1

    @property
    def done(self) -> bool:
        return self.i == len(self.steps)


class Replay:
    """One device's recorded sessions, in order."""

    def __init__(self, entries: list[dict], clock: FakeClock):
        self.entries, self.clock = list(entries), clock
        self.channels: list[ReplayChannel] = []
        self.log: list[tuple[str, str]] = []
        self.files: dict[str, str] = {}
        self.closed = 0
        self.refuse_until: float | None = None

    @classmethod
    def load(cls, name: str, scenario: str, clock: FakeClock) -> Replay:
        data = yaml.safe_load((SESSIONS / f"{name}.yaml").read_text(encoding="utf-8"))
        return cls(data[scenario], clock)

    def connect(self) -> ReplayChannel:
        if self.refuse_until is not None:
            if self.clock.monotonic() < self.refuse_until:
                raise UnreachableError("no route to host (recorded outage)")
            self.refuse_until = None
        if not self.entries:
            raise ReplayMismatchError("a new session, but the recording has none left")
        entry = self.entries.pop(0)
        if "unreachable_for" in entry:
            self.refuse_until = self.clock.monotonic() + float(entry["unreachable_for"])
            return self.connect()
        channel = ReplayChannel(entry["steps"], self)
        self.channels.append(channel)
        return channel

    def assert_done(self) -> None:
        left = [c.steps[c.i:] for c in self.channels if not c.done and not c.dead]
        assert not self.entries and not any(left), f"recorded but never used: {self.entries or left}"
