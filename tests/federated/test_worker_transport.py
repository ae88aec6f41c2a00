"""The worker pipe's transport: what goes in comes out, tensors whole, and nothing else."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
import torch

from networkfed.federated import transport
from networkfed.federated.packing import pack_state
from networkfed.federated.transport import receive_message, send_message
from networkfed.federated.types import SiteUpdate


def _round_trip(message: object) -> object:
    """Send through a real pipe from another thread (large messages exceed its buffer)."""
    ours, theirs = multiprocessing.Pipe()
    sender = threading.Thread(target=send_message, args=(theirs, message))
    sender.start()
    try:
        return receive_message(ours)
    finally:
        sender.join()
        ours.close()
        theirs.close()


def test_tensors_of_every_kind_arrive_equal_and_writable() -> None:
    big = torch.randn(3_000_000)  # 12 MB: many partial reads and writes
    message = {
        "big": big,
        "strided": torch.arange(24.0).reshape(4, 6).t(),
        "scalar": torch.tensor(3, dtype=torch.int64),
        "empty": torch.zeros(0, 5),
        "flags": torch.tensor([True, False]),
        "bf16": torch.ones(3, dtype=torch.bfloat16),  # not NumPy-able: torch's own pickling
        "plain": ["text", 1.5, None],
    }

    received = _round_trip(message)

    assert received.keys() == message.keys()
    for key in ("big", "strided", "scalar", "empty", "flags", "bf16"):
        sent, got = message[key], received[key]
        assert (got.dtype, got.shape) == (sent.dtype, sent.shape), key
        assert torch.equal(got, sent), key
    assert received["plain"] == ["text", 1.5, None]
    received["big"].add_(1)  # the receiving tensors own writable memory
    assert not torch.equal(received["big"], big)


def test_a_site_update_arrives_packed_with_the_same_values() -> None:
    state = {"w": torch.randn(5, 3), "b": torch.randn(3), "steps": torch.tensor(7)}
    update = SiteUpdate("site_a", pack_state(state), num_examples=12, metrics={"loss": 0.5})

    received = _round_trip([update, update])

    for got in received:
        assert (got.site_id, got.num_examples, got.metrics) == ("site_a", 12, {"loss": 0.5})
        assert list(got.state) == ["w", "b", "steps"]
        for key, value in state.items():
            assert torch.equal(got.state[key], value), key
        # packed as sent: the float tensors are views into one buffer
        assert got.state["w"].untyped_storage().data_ptr() == (
            got.state["b"].untyped_storage().data_ptr())


def test_more_buffers_than_one_system_call_takes() -> None:
    message = [torch.full((3,), float(i)) for i in range(3 * transport._IOV_MAX + 7)]
    received = _round_trip(message)
    assert all(torch.equal(a, b) for a, b in zip(received, message, strict=True))


def test_a_closed_pipe_is_end_of_file() -> None:
    ours, theirs = multiprocessing.Pipe()
    theirs.close()
    with pytest.raises(EOFError):
        receive_message(ours)
    ours.close()


def test_the_portable_path_gives_the_same_message(monkeypatch) -> None:
    """Where a connection is no file descriptor (Windows) the message travels in one piece."""
    monkeypatch.setattr(transport, "_RAW_FDS", False)
    message = {"x": torch.randn(1000, 7), "n": 3}
    received = _round_trip(message)
    assert torch.equal(received["x"], message["x"]) and received["n"] == 3
