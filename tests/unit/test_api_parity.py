"""The sync and asyncio clients keep the same API, and every public name is documented."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import jackd
import jackd.aio
import jackd.testing
from jackd._pipeline import PipelineBase


def public_methods(cls: type[Any]) -> dict[str, Callable[..., Any]]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


SYNC = public_methods(jackd.Client)
ASYNC = public_methods(jackd.aio.AsyncClient)
#: Methods that return an object rather than talk to the server.
NOT_COROUTINES = {"pipeline"}


def test_async_client_has_every_method_of_the_sync_client() -> None:
    assert set(ASYNC) == set(SYNC)


@pytest.mark.parametrize("name", sorted(SYNC))
def test_same_signature(name: str) -> None:
    sync = inspect.signature(SYNC[name])
    async_ = inspect.signature(ASYNC[name])
    assert list(sync.parameters) == list(async_.parameters)
    for param in sync.parameters.values():
        other = async_.parameters[param.name]
        assert (param.kind, param.default, param.annotation) == (
            other.kind,
            other.default,
            other.annotation,
        )
    if name == "pipeline":
        assert (sync.return_annotation, async_.return_annotation) == ("Pipeline", "AsyncPipeline")
    elif name == "connect":
        assert (sync.return_annotation, async_.return_annotation) == ("Client", "AsyncClient")
    else:
        assert sync.return_annotation == async_.return_annotation


@pytest.mark.parametrize("name", sorted(SYNC))
def test_async_methods_are_coroutines(name: str) -> None:
    assert inspect.iscoroutinefunction(ASYNC[name]) == (name not in NOT_COROUTINES)
    assert not inspect.iscoroutinefunction(SYNC[name])


def test_same_constructor_arguments() -> None:
    sync = inspect.signature(jackd.Client.__init__)
    async_ = inspect.signature(jackd.aio.AsyncClient.__init__)
    assert sync.parameters.keys() == async_.parameters.keys()
    assert inspect.signature(jackd.connect).parameters.keys() == (
        inspect.signature(jackd.aio.connect).parameters.keys()
    )


# Commands a pipeline can queue: everything that sends one command, not the batch helpers or
# the connection's own lifecycle.
NOT_QUEUEABLE = {
    "connect",
    "close",
    "quit",
    "pipeline",
    "put_many",
    "reserve_many",
    "delete_many",
}


@pytest.mark.parametrize("name", sorted(set(SYNC) - NOT_QUEUEABLE))
def test_pipelines_queue_every_command(name: str) -> None:
    queued = inspect.signature(getattr(PipelineBase, name))
    client = inspect.signature(SYNC[name])
    assert list(queued.parameters) == list(client.parameters)
    for param in client.parameters.values():
        assert queued.parameters[param.name].default == param.default


def documented_names() -> list[tuple[str, Any]]:
    names: list[tuple[str, Any]] = []
    for module in (jackd, jackd.aio, jackd.testing):
        names.append((module.__name__, module))
        for attr in getattr(module, "__all__", dir(module)):
            obj = getattr(module, attr)
            if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if getattr(obj, "__module__", "").startswith("jackd"):
                names.append((f"{module.__name__}.{attr}", obj))
                if inspect.isclass(obj):
                    for member, value in vars(obj).items():
                        if not member.startswith("_") and callable(value):
                            names.append((f"{module.__name__}.{attr}.{member}", value))
    return names


@pytest.mark.parametrize(("name", "obj"), documented_names(), ids=lambda v: str(v))
def test_every_public_name_has_a_docstring(name: str, obj: Any) -> None:
    assert inspect.getdoc(obj), f"{name} has no docstring"
