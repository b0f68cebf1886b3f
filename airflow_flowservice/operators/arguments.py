"""Operator arguments declared once: ``name: type = argument("what it is", default)`` on the class.

From these class attributes an operator gets, when its class is created (:class:`DeclaredArguments`):

- its ``__init__``: each argument keyword-only, with its default (required when it has none), stored
  on the task under its name; every other keyword goes to Airflow's ``BaseOperator`` (which refuses
  an unknown one when the DAG file is parsed);
- ``template_fields``: the templated arguments (all, unless ``templated=False``), after the bases';
- the ``:param ...:`` lines of its docstring, in declaration order, the bases' arguments after its own:
  the docstring is the operator's reference page (the API reference renders it);
- :meth:`DeclaredArguments.model_input`: the values to validate with the operator's pydantic input
  model (``airflow_flowservice.inputs``), under the model's field names; ``tests/unit/test_arguments.py``
  checks that every operator's arguments and its model's fields agree.

So a new argument is one line here (plus its field in the input model when the model validates it)
and its test. The module is light (no pydantic): DAG files import the operator modules when they are
parsed. Static type checkers see ``**kwargs`` for the generated ``__init__``; Airflow checks the
keywords when the DAG is parsed and the input model checks the values before any call.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["REQUIRED", "Argument", "DeclaredArguments", "argument"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an argument that has none: the task must be given it.
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Argument:
    """One operator argument (see :func:`argument`)."""

    doc: str
    default: Any = REQUIRED
    templated: bool = True
    model_field: str | None = None
    validated: bool = True
    name: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def argument(
    doc: str,
    default: Any = REQUIRED,
    *,
    templated: bool = True,
    model_field: str | None = None,
    validated: bool = True,
) -> Any:
    """Declare an operator argument as a class attribute.

    :param doc: what the argument is, as its ``:param:`` line says it (a default is added to it when the
        doc does not state one).
    :param default: its default; leave it out for a required argument.
    :param templated: whether it is a template field. Default ``True``.
    :param model_field: the input model's field when its name differs (``connection_params`` is ``params``).
    :param validated: whether :meth:`DeclaredArguments.model_input` passes it to the input model.
    """
    return Argument(doc, default, templated, model_field, validated)


class DeclaredArguments:
    """Mixin: turns the class's :func:`argument` attributes into its ``__init__``, template fields and docs."""

    #: Every argument of the class, the bases' included, by name (in declaration order, own ones first).
    arguments: ClassVar[Mapping[str, Argument]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {
            name: Argument(**{**value.__dict__, "name": name})
            for name, value in list(cls.__dict__.items())
            if isinstance(value, Argument)
        }
        inherited = dict(cls.arguments)
        cls.arguments = {**own, **{n: a for n, a in inherited.items() if n not in own}}
        if cls.__dict__.get("__doc__"):
            cls.__doc__ = _with_params(cls.__dict__["__doc__"], cls.arguments)
        if not own:
            return
        for name in own:
            delattr(cls, name)  # the task's own attribute holds the value from __init__ on
        base_fields: tuple[str, ...] = tuple(getattr(cls, "template_fields", ()))
        templated = tuple(name for name, arg in own.items() if arg.templated)
        cls.template_fields = tuple(dict.fromkeys([*base_fields, *templated]))  # type: ignore[attr-defined]
        cls.__init__ = _init_for(cls, own)  # type: ignore[method-assign]

    def prepare_arguments(self, values: dict[str, Any], kwargs: dict[str, Any]) -> None:
        """Override to adjust, before the base class's ``__init__``, the class's own argument ``values`` or
        the ``kwargs`` going on to the base (e.g. add to ``outlets``). Runs for the class that defines it."""

    def model_input(self) -> dict[str, Any]:
        """The values of the validated arguments, under the input model's field names."""
        return {arg.model_field or name: getattr(self, name) for name, arg in self.arguments.items() if arg.validated}


def _init_for(cls: type, own: Mapping[str, Argument]) -> Any:
    """``__init__(self, *, <own arguments>, **kwargs)``: set them on the task, pass the rest to the base."""

    def __init__(self: Any, **kwargs: Any) -> None:
        values: dict[str, Any] = {}
        for name, arg in own.items():
            if name in kwargs:
                values[name] = kwargs.pop(name)
            elif arg.required:
                raise TypeError(f"{cls.__name__} missing required keyword argument: {name!r}")
            else:
                values[name] = arg.default
        prepare = cls.__dict__.get("prepare_arguments")
        if prepare is not None:  # the class's own hook only: each level of the hierarchy runs its own
            prepare.__get__(self)(values, kwargs)
        super(cls, self).__init__(**kwargs)  # type: ignore[arg-type]
        for name, value in values.items():
            setattr(self, name, value)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=inspect.Parameter.empty if arg.required else arg.default
        )
        for name, arg in own.items()
    ]
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    __init__.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    __init__.__doc__ = f"Create the task; the arguments are the class's (:class:`{cls.__name__}`)."
    return __init__


def _with_params(doc: str, arguments: Mapping[str, Argument]) -> str:
    """``doc`` (Airflow's operator docstring style: a summary, prose) followed by one ``:param:`` per argument."""
    text = inspect.cleandoc(doc)
    lines = []
    for name, arg in arguments.items():
        line = f":param {name}: {arg.doc}"
        if not arg.required and "default" not in arg.doc.lower() and arg.default is not None:
            line += f" Default ``{arg.default!r}``."
        if arg.templated:
            line += " (templated)"
        lines.append(line)
    return f"{text}\n\n" + "\n".join(lines) + "\n" if lines else text
