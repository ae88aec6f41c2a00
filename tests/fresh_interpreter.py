"""Run a snippet in a fresh Python interpreter: start-up behaviour (imports, the garbage
collector) can only be seen from a process that has not imported anything yet."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any


def printed_json(script: str) -> Any:
    """What ``script`` (dedented) prints last, parsed as JSON."""
    output = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                            text=True, check=True, timeout=120).stdout
    return json.loads(output.strip().splitlines()[-1])
