"""``benchmarks/results/quality.json`` must come from the package source of this checkout.

The quality numbers are only evidence for the code that produced them: a change to a
package file the runs imported (a training step, an evaluation rule) can move a seeded run.
The result file records a sha256 per imported package file; this test fails on any
difference, names the files, and says which command regenerates the numbers.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
provenance = importlib.import_module("provenance")

QUALITY_JSON = ROOT / "benchmarks" / "results" / "quality.json"
def test_package_source_hash_is_stable_and_names_changed_files(tmp_path: Path) -> None:
    package = tmp_path / "src" / "networkfed"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    before = provenance.source_hashes(tmp_path)

    (package / "sub" / "b.py").write_text("y = 3\n")
    (package / "c.py").write_text("")
    after = provenance.source_hashes(tmp_path)

    assert list(before) == ["src/networkfed/a.py", "src/networkfed/sub/b.py"]
    assert provenance.combined_hash(before) == provenance.combined_hash(dict(before))
    assert provenance.combined_hash(before) != provenance.combined_hash(after)
    assert provenance.changed_files(before, after) == ["src/networkfed/sub/b.py"]
    kept = provenance.restricted_to({"source_files": before}, {"src/networkfed/a.py"})
    assert kept["source_files"] == {"src/networkfed/a.py": before["src/networkfed/a.py"]}
    assert provenance.changed_files(kept["source_files"], after) == []


def test_quality_json_was_made_by_this_package_source() -> None:
    recorded = json.loads(QUALITY_JSON.read_text(encoding="utf-8")).get("provenance")
    assert recorded is not None, "benchmarks/results/quality.json records no provenance"

    current = provenance.source_hashes(ROOT)
    still = {path: current[path] for path in recorded["source_files"] if path in current}

    changed = provenance.changed_files(recorded["source_files"], current)
    assert recorded["source_hash"] == provenance.combined_hash(still) and not changed, (
        f"benchmarks/results/quality.json was made by a different package source "
        f"(commit {recorded.get('git_commit')}); changed: {', '.join(changed)}. Rerun "
        "`.venv/bin/python benchmarks/quality.py` (and benchmarks/quality_search.py if the "
        "change can move the choices) and commit the results.")
