"""Which code produced a result file: the git commit and a hash of the package source.

Every ``src/networkfed/**/*.py`` file is hashed (sha256 of its bytes) before the runs; the
result keeps the files the runs actually imported (:func:`package_files_loaded`, collected in
every worker process), since only those can move a number: a change to the Flower
deployment or the CLI does not make the quality numbers stale, a change to the training
step does. The combined hash is the sha256 of the sorted ``path hash`` lines. A result file
stores both, so a test can say not only *that* the package changed since the numbers were
made but *which files*.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["changed_files", "package_files_loaded", "provenance", "restricted_to",
           "source_hashes"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path("src") / "networkfed"


def source_hashes(root: Path = ROOT) -> dict[str, str]:
    """``relative path -> sha256`` of every Python file of the package, sorted by path."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in files}


def combined_hash(files: Mapping[str, str]) -> str:
    lines = "".join(f"{path} {digest}\n" for path, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def provenance(root: Path = ROOT) -> dict[str, Any]:
    """The commit (and whether the package source differs from it) plus the source hashes."""
    files = source_hashes(root)
    dirty = _git(root, "status", "--porcelain", "--", PACKAGE.as_posix())
    return {"git_commit": _git(root, "rev-parse", "HEAD"),
            "package_source_modified_since_commit": bool(dirty) if dirty is not None else None,
            "source_hash": combined_hash(files), "source_files": files}


def package_files_loaded(root: Path = ROOT) -> set[str]:
    """The package's source files imported by this process, as ``source_hashes`` keys."""
    package = (root / PACKAGE).resolve()
    loaded = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(package):
            loaded.add(Path(file).resolve().relative_to(root.resolve()).as_posix())
    return loaded


def restricted_to(source: Mapping[str, Any], files: set[str]) -> dict[str, Any]:
    """``source`` (a :func:`provenance`) keeping only ``files``, with their combined hash."""
    kept = {path: digest for path, digest in source["source_files"].items() if path in files}
    return {**source, "source_hash": combined_hash(kept), "source_files": kept,
            "source_scope": "package files imported by the runs"}


def changed_files(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Recorded files removed or changed in ``current``, sorted: a file the runs never
    imported cannot have moved their numbers (and one they would import now is imported
    by a recorded file, which then changed too)."""
    return sorted(path for path in recorded if recorded[path] != current.get(path))
