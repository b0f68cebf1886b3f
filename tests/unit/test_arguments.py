"""Operator arguments are declared once (operators/arguments.py); what is derived from them agrees."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from airflow_flowservice import inputs, registry
from airflow_flowservice.operators.arguments import DeclaredArguments

TASKS = {**registry.OPERATORS, **registry.SENSORS}


def _task_class(name: str) -> type[DeclaredArguments]:
    cls: type[DeclaredArguments] = getattr(importlib.import_module(TASKS[name]), name)
    return cls


@pytest.mark.parametrize("name", sorted(TASKS))
def test_init_template_fields_and_docs_come_from_the_declared_arguments(name: str) -> None:
    cls = _task_class(name)
    assert issubclass(cls, DeclaredArguments)
    params = inspect.signature(cls.__init__).parameters
    own_init = {p for p in params if p not in ("self", "kwargs")}
    assert own_init <= set(cls.arguments)  # the generated __init__ of the class takes its own arguments
    templated = [n for n, a in cls.arguments.items() if a.templated]
    assert set(templated) <= set(cls.template_fields)
    assert [f for f in cls.template_fields if f in cls.arguments] == [f for f in cls.template_fields if f in templated]
    doc = cls.__doc__ or ""
    for arg_name in cls.arguments:
        assert f":param {arg_name}:" in doc, f"{name} documents no {arg_name}"
    assert doc.splitlines()[0].strip(), f"{name} has no one-line summary"


@pytest.mark.parametrize(
    "name",
    sorted(n for n in registry.OPERATORS if getattr(_task_class(n), "input_model", None)),
)
def test_validated_arguments_are_the_input_models_fields(name: str) -> None:
    cls: Any = _task_class(name)
    model = getattr(inputs, cls.input_model)
    validated = {a.model_field or n for n, a in cls.arguments.items() if a.validated}
    assert validated == set(model.model_fields), f"{name} vs {model.__name__}"


def test_a_new_argument_is_one_line() -> None:
    """Declared on a subclass, an argument reaches __init__, the attribute, template_fields and the docstring."""
    from airflow_flowservice.operators.arguments import argument
    from airflow_flowservice.operators.base import FlowServiceBaseOperator

    class Probe(FlowServiceBaseOperator):
        """Probe the declared arguments."""

        colour: str = argument("the colour.", "red")
        size: int = argument("the size.", templated=False)

        def execute(self, context: Any) -> Any:
            return self.model_input()

    task = Probe(task_id="probe", size=3)
    assert (task.colour, task.size) == ("red", 3)
    assert "colour" in Probe.template_fields and "size" not in Probe.template_fields
    assert ":param colour: the colour. Default ``'red'``. (templated)" in (Probe.__doc__ or "")
    assert task.model_input() == {"colour": "red", "size": 3}
    with pytest.raises(TypeError, match="size"):
        Probe(task_id="probe2")
