"""The one vocabulary of neuron kinds: a name for each neuron model, used by recipes, the CLI,
model builders and export alike (``"lif"``, ``"cuba_lif"``, ``"adaptive_lif"``, ...).

A neuron module registers its name where it is defined::

    @register_neuron("lif")
    class LIF(NeuronModule): ...

``neuron_class("lif")`` returns the class; an unknown name is an error that lists the known
ones (and the closest match). A name is lower-case ``snake_case`` and means one model only.
"""
from __future__ import annotations

import difflib
import re

__all__ = ["NEURONS", "RENAMED_NEURONS", "register_neuron", "neuron_class", "neuron_names",
           "renamed_error"]

NEURONS: dict[str, type] = {}
#: names used before the one vocabulary -> the catalog's name (an error that names the new one)
RENAMED_NEURONS = {"cuba": "cuba_lif", "alif": "adaptive_lif", "amsu": "astrocyte_lif"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_neuron(name: str):
    """Class decorator: make ``cls`` the neuron called ``name`` in recipes and configs."""
    if not _NAME.match(name):
        raise ValueError(f"neuron name {name!r} must be lower-case snake_case")

    def decorate(cls: type) -> type:
        if NEURONS.get(name, cls) is not cls:
            raise ValueError(f"neuron name {name!r} is taken by {NEURONS[name].__name__}")
        NEURONS[name] = cls
        cls.neuron_name = name
        return cls

    return decorate


def neuron_names() -> tuple[str, ...]:
    """Every registered neuron name, sorted."""
    return tuple(sorted(NEURONS))


def renamed_error(name) -> ValueError | None:
    """The error for a name of the old vocabulary (``RENAMED_NEURONS``), else ``None``."""
    if isinstance(name, str) and name in RENAMED_NEURONS:
        new = RENAMED_NEURONS[name]
        return ValueError(f"neuron {name!r} is now called {new!r} (the names of "
                          f"axonal.neurons.catalog); did you mean {new!r}?")
    return None


def neuron_class(name: str) -> type:
    """The neuron module registered as ``name``; a clear error for an unknown name."""
    error = renamed_error(name)
    if error is not None:
        raise error
    try:
        return NEURONS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), NEURONS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown neuron {name!r}; known neurons: {', '.join(neuron_names())}.{hint}") from None
