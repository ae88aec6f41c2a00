"""Where ``ModelManager`` keeps its models' round snapshots: in memory, or in a folder.

On disk, per model id::

    <storage_dir>/<model_id>/model.json               how to rebuild the model
    <storage_dir>/<model_id>/round_0003.safetensors   the round's full state (never pickle)
    <storage_dir>/<model_id>/round_0003.json          round, time, metrics, extra, sha256

Every file is written to a temporary file beside it and moved into place (``os.replace``),
tensors before metadata, and a round counts only once its metadata exists — so a crash
never leaves a torn checkpoint. The metadata holds the SHA-256 of the tensor file, so a
truncated or corrupted file is reported (``CheckpointError`` naming it) instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from enum import Enum
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
from torch import Tensor

from networkfed.core.errors import CheckpointError

__all__ = ["DiskStore", "MemoryStore", "jsonable"]

MODEL_FILE = "model.json"
_ROUND_FILE = re.compile(r"^round_(\d+)\.json$")


def round_stem(round_num: int) -> str:
    """File name stem of a round's snapshot (``round_0003``); sorts by round up to 9999."""
    return f"round_{round_num:04d}"


def jsonable(value: Any, where: str = "metadata") -> Any:
    """Return ``value`` as plain JSON data; non-finite floats become ``None`` (strict JSON)."""
    if isinstance(value, np.generic) or (isinstance(value, Tensor) and value.numel() == 1):
        value = value.item()
    elif isinstance(value, Tensor | np.ndarray):
        value = value.tolist()
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where} holds a {type(value).__name__}, which cannot be stored as JSON")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, move it in place."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(path, "is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(path, f"is corrupted or truncated ({error})") from None
    if not isinstance(document, dict):
        raise CheckpointError(path, "is corrupted (expected a JSON object)")
    return document


class MemoryStore:
    """Snapshots kept in this process only (a ``ModelManager`` without ``storage_dir``)."""

    def __init__(self) -> None:
        self._infos: dict[str, dict[str, Any]] = {}
        self._rounds: dict[str, dict[int, tuple[dict[str, Tensor], str]]] = {}

    def model_ids(self) -> list[str]:
        return list(self._infos)

    def read_info(self, model_id: str) -> dict[str, Any]:
        return json.loads(json.dumps(self._infos[model_id]))

    def write_info(self, model_id: str, info: dict[str, Any]) -> None:
        self._infos[model_id] = json.loads(json.dumps(info))
        self._rounds.setdefault(model_id, {})

    def rounds(self, model_id: str) -> list[int]:
        return sorted(self._rounds.get(model_id, {}))

    def save(self, model_id: str, round_num: int, state: dict[str, Tensor], meta: dict) -> None:
        copied = {name: tensor.detach().to("cpu", copy=True) for name, tensor in state.items()}
        self._rounds[model_id][round_num] = (copied, json.dumps(meta))

    def load(self, model_id: str, round_num: int) -> tuple[dict[str, Tensor], dict[str, Any]]:
        state, meta = self._rounds[model_id][round_num]
        return {name: tensor.clone() for name, tensor in state.items()}, json.loads(meta)

    def remove(self, model_id: str) -> None:
        self._infos.pop(model_id, None)
        self._rounds.pop(model_id, None)


class DiskStore:
    """Snapshots in ``root`` (layout in the module docstring); the folder is the truth."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def model_ids(self) -> list[str]:
        """Models with a ``model.json``, in the order they were first registered."""
        found = [
            (self.read_info(folder.name).get("registered_ns", 0), folder.name)
            for folder in self.root.iterdir()
            if folder.is_dir() and not folder.name.startswith(".")
            and (folder / MODEL_FILE).is_file()
        ]
        return [name for _, name in sorted(found)]

    def read_info(self, model_id: str) -> dict[str, Any]:
        return _read_json(self.root / model_id / MODEL_FILE)

    def write_info(self, model_id: str, info: dict[str, Any]) -> None:
        folder = self.root / model_id
        folder.mkdir(exist_ok=True)
        _atomic_write(folder / MODEL_FILE, json.dumps(info, indent=2).encode("utf-8"))

    def rounds(self, model_id: str) -> list[int]:
        folder = self.root / model_id
        if not folder.is_dir():
            return []
        return sorted(
            int(match.group(1))
            for match in map(_ROUND_FILE.match, os.listdir(folder))
            if match and (folder / f"{round_stem(int(match.group(1)))}.safetensors").is_file()
        )

    def save(self, model_id: str, round_num: int, state: dict[str, Tensor], meta: dict) -> None:
        stem = self.root / model_id / round_stem(round_num)
        order = {"keys": json.dumps(list(state))}
        data = safetensors.torch.save({k: v.contiguous() for k, v in state.items()}, order)
        _atomic_write(stem.with_suffix(".safetensors"), data)
        document = {**meta, "sha256": hashlib.sha256(data).hexdigest()}
        _atomic_write(stem.with_suffix(".json"), json.dumps(document, indent=2).encode("utf-8"))

    def load(self, model_id: str, round_num: int) -> tuple[dict[str, Tensor], dict[str, Any]]:
        stem = self.root / model_id / round_stem(round_num)
        meta = _read_json(stem.with_suffix(".json"))
        tensor_file = stem.with_suffix(".safetensors")
        try:
            data = tensor_file.read_bytes()
        except OSError as error:
            raise CheckpointError(tensor_file, f"cannot be read ({error})") from None
        if hashlib.sha256(data).hexdigest() != meta.pop("sha256", None):
            raise CheckpointError(tensor_file, "is truncated or corrupted (checksum mismatch)")
        try:
            state = safetensors.torch.load(data)
            order = json.loads(header_metadata(data).get("keys", "[]")) or sorted(state)
            return {name: state[name] for name in order}, meta
        except Exception as error:  # any parse failure means the same thing to the caller
            raise CheckpointError(tensor_file, f"is corrupted ({error})") from None

    def remove(self, model_id: str) -> None:
        """Move the folder aside first (atomic), so a crash never leaves half a model."""
        folder = self.root / model_id
        if folder.is_dir():
            doomed = self.root / f".{model_id}.removed-{uuid.uuid4().hex}"
            os.replace(folder, doomed)
            shutil.rmtree(doomed, ignore_errors=True)


def header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors buffer (its 8-byte length, then a JSON header)."""
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + length]).get("__metadata__") or {}
