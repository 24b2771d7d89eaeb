"""put_batch, eager and lazily built: the same commands either way, without sockets."""

from __future__ import annotations

import pytest

import jackd
from jackd._commands import Body
from jackd._pipeline import FIRST_CHUNK, PipelineBase, put_batch


def encoded(bodies: list[Body]) -> list[object]:
    pipe = PipelineBase()
    for body in bodies:
        pipe.put(body, 7, 3, 30)
    return [cmd.data for cmd in pipe._take().commands]


BODIES: list[Body] = [b"job %d" % n for n in range(1000)]
BODIES += [b"L" * 20_000, "é"]


def test_a_lazy_batch_encodes_in_growing_chunks_the_commands_a_pipeline_makes() -> None:
    batch = put_batch(BODIES, 7, 3, 30, lazy=True)
    assert len(batch.commands) == FIRST_CHUNK
    assert batch.unbuilt == len(BODIES) - FIRST_CHUNK
    sizes = [FIRST_CHUNK]
    while batch.unbuilt:
        sizes.append(len(batch.build_more()))
    assert sizes == [64, 192, 746]  # each chunk three times what came before it
    assert batch.build_more() == []
    assert [cmd.data for cmd in batch.commands] == encoded(BODIES)
    assert batch.largest_body == 20_000


def test_an_eager_or_short_batch_is_built_at_once() -> None:
    assert put_batch(BODIES, 7, 3, 30).unbuilt == 0
    short = put_batch([b"x"] * FIRST_CHUNK, 0, 0, 60, lazy=True)
    assert (len(short.commands), short.unbuilt) == (FIRST_CHUNK, 0)


def test_every_body_is_checked_before_any_is_encoded() -> None:
    with pytest.raises(TypeError):
        put_batch([b"fine"] * 500 + [42], 0, 0, 60, lazy=True)  # type: ignore[list-item]


def test_abandoning_a_lazy_batch_fails_only_what_was_never_encoded() -> None:
    batch = put_batch([b"x"] * 300, 0, 0, 60, lazy=True)
    sent = list(batch.commands)
    error = jackd.ConnectionLostError("not sent")
    batch.abandon(error)
    assert batch.unbuilt == 0
    assert len(batch.commands) == 300
    assert all(cmd.error is None for cmd in sent)
    assert all(cmd.error is error for cmd in batch.commands[len(sent) :])
    assert not error.maybe_applied
