"""Plants' own data folders for deployment tests: each plant sees only its subset's files."""

from __future__ import annotations

from pathlib import Path


def cmapss_plant_folders(cmapss_dir: Path, root: Path, subsets: tuple[str, ...]
                         ) -> dict[str, Path]:
    """One folder per plant holding only its subset's run files (links to the real ones)."""
    folders = {}
    for subset in subsets:
        folders[subset] = root / f"plant_{subset.lower()}"
        folders[subset].mkdir()
        for part in ("train", "test", "RUL"):
            (folders[subset] / f"{part}_{subset}.txt").symlink_to(
                cmapss_dir / f"{part}_{subset}.txt")
    return folders
