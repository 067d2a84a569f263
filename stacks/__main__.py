"""Pulumi program entry point: the stack file named like the Pulumi stack (see Pulumi.yaml)."""

from pathlib import Path

from govnet.provision.program import run

run(Path(__file__).resolve().parent)
