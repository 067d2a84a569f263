"""JSON Schema of the stack format, generated from the model so editors validate stack files.

One job: model classes -> JSON Schema text. ``schemas/govnet-stack.schema.json`` is this output,
committed; a test fails when it falls behind the model.
"""

from __future__ import annotations

import json
from pathlib import Path

from govnet.model import Stack

SCHEMA_ID = "https://govnet.example.gov.cn/schemas/govnet-stack.schema.json"
DEFAULT_PATH = Path("schemas") / "govnet-stack.schema.json"


def stack_schema() -> dict:
    schema = Stack.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "govnet stack",
        "description": "A city's e-government network, declared: sites, devices, zones, links "
                       "and the address plan. See README.md.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def schema_text() -> str:
    return json.dumps(stack_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
