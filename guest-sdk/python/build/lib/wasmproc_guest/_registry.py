"""The tasks of this module, registered by `@task`."""

import inspect
from dataclasses import dataclass

from . import _types


@dataclass
class Entry:
    name: str
    func: object
    params: list
    returns: object
    doc: str


TASKS: dict = {}


def register(func) -> None:
    """Registers `func` under its name, with the types its annotations declare."""
    name = func.__name__
    try:
        hints = __import__("typing").get_type_hints(func)
    except Exception as e:
        raise TypeError(f"task {name}: cannot read its annotations: {e}") from None
    params = []
    for p in inspect.signature(func).parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise TypeError(f"task {name}: parameter {p.name} must be a plain positional parameter")
        if p.name not in hints:
            raise TypeError(f"task {name}: parameter {p.name} needs a type annotation (e.g. {p.name}: int)")
        params.append((p.name, _types.of(hints[p.name], f"task {name}, parameter {p.name}")))
    if "return" not in hints:
        raise TypeError(f"task {name}: needs a return annotation (e.g. -> int, or -> None)")
    returns = _types.of(hints["return"], f"task {name}, result")
    if name in TASKS:
        raise TypeError(f"task {name} is defined twice")
    TASKS[name] = Entry(name, func, params, returns, inspect.cleandoc(func.__doc__ or ""))
