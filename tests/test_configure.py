"""Tests of govnet.configure's choice of Ansible strategy."""

from __future__ import annotations

from pathlib import Path

from govnet import configure


def test_mitogen_linear_strategy_when_installed(monkeypatch):
    monkeypatch.delenv("GOVNET_MITOGEN", raising=False)
    env = configure.strategy_env()
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()


def test_plain_ansible_when_turned_off(monkeypatch):
    monkeypatch.setenv("GOVNET_MITOGEN", "0")
    assert configure.strategy_env() == {}
