"""Where a project and its run-time state are: one neutral module every phase reads.

The stack file names the project: ``<root>/stacks/<name>.yaml``. Run-time state lives in
``<root>/.govnet`` (or ``$GOVNET_STATE_DIR``), never in git: per stack, the rendered
configurations, the city PKI, run-time secrets, the SSH key and the last run's summary. Ansible
receives the stack's state folder as the single variable ``govnet_state_dir``
(:func:`ansible_vars`); each role derives its own folders from it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Project:
    """Where one stack file's project, state and tools are."""

    stack_file: Path

    @property
    def name(self) -> str:
        return self.stack_file.stem

    @property
    def stack_dir(self) -> Path:
        return self.stack_file.resolve().parent

    @property
    def root(self) -> Path:
        return self.stack_dir.parent

    @property
    def state(self) -> Path:
        return Path(os.environ.get("GOVNET_STATE_DIR", self.root / ".govnet"))

    @property
    def stack_state(self) -> Path:
        """Everything one stack's runs make: Pulumi's outputs aside, the rendered configs, the
        city PKI, run-time secrets, the SSH key, the last run's summary. Ansible gets this one
        path as ``govnet_state_dir`` and each role derives its own folders from it."""
        return self.state / "stacks" / self.name

    @property
    def configs(self) -> Path:
        """The device configurations rendered for this run (roles: ``<state>/configs``)."""
        return self.stack_state / "configs"

    @property
    def secrets(self) -> Path:
        """Run-time secrets made on the controller (database and backup passphrases)."""
        return self.stack_state / "secrets"

    @property
    def pki(self) -> Path:
        """The city CA and the certificates it signed (the pki role)."""
        return self.stack_state / "pki"

    def ssh_key(self) -> Path:
        """The private key Ansible and the checks connect with: ``$GOVNET_SSH_KEY`` (the
        operator's key for real hosts), else the stack's own pair, made at first use."""
        if os.environ.get("GOVNET_SSH_KEY"):
            return Path(os.environ["GOVNET_SSH_KEY"])
        key = self.stack_state / "ssh" / "id_ed25519"
        if not key.is_file():
            key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                            f"govnet@{self.name}", "-f", str(key)], check=True)
        return key

    def passphrase(self) -> str:
        """The secrets passphrase. It lives with the project, not the state: the stack settings
        (stacks/Pulumi.<stack>.yaml) hold its salt, whichever state directory is in use."""
        path = self.root / ".govnet" / "pulumi-passphrase"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        return path.read_text().strip()




def ansible_vars(project: Project) -> dict[str, str]:
    """The paths Ansible needs: one folder; the roles derive the rest."""
    return {"govnet_state_dir": str(project.stack_state)}
