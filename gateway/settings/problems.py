"""What is wrong with the operator's settings, said in one line each, before anything starts.

pydantic's own report of a bad value is a traceback around a list of errors keyed by
field names; an operator set ``MOSAIC_CRM_TIMEOUT_S``, not ``crm.timeout_s``. Here each
problem becomes one line that names the variable, shows what it was given (never for a
secret) and says what it expects. A ``MOSAIC_*`` variable that no setting reads is
ignored by pydantic; here it is named, with the setting it was probably meant to be.
Every entry point that reads the settings (``mosaic serve``, ``mosaic demo``,
``mosaic sources check``, the app factory uvicorn calls) goes through ``load``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError

from gateway.settings.model import Settings
from gateway.settings.names import CONFIG_FILE, PREFIX, Setting, by_name, settings_of

#: variables read outside the settings' fields: the TOML file's name
OTHER_VARIABLES = frozenset({CONFIG_FILE})
#: the longest given value a line repeats
SHOWN_CHARS = 40


class SettingsProblem(Exception):
    """Settings that cannot be right: ``lines`` says each problem, one line apiece."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load(**given: Any) -> Settings:
    """The settings from the environment, the files and ``given``; a bad value raises
    SettingsProblem with one line per problem (pydantic's errors never reach the operator)."""
    config_file = os.environ.get(CONFIG_FILE)
    if config_file and not Path(config_file).is_file():
        raise SettingsProblem([f"{CONFIG_FILE}={config_file}: no such file"])
    try:
        return Settings(**given)
    except ValidationError as error:
        raise SettingsProblem([_line(e) for e in error.errors()]) from None
    except SettingsError as error:
        raise SettingsProblem([_unparsed(error)]) from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsProblem([f"{CONFIG_FILE}={config_file}: not TOML ({error})"]) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``MOSAIC_*`` variable no setting reads, with the nearest
    real name when there is one (``MOSAIC_CRM_ULR``: did you mean ``MOSAIC_CRM_URL``?)."""
    known = sorted({setting.variable for setting in settings_of(Settings)} | OTHER_VARIABLES)
    warnings = []
    for name in sorted(n for n in environ if n.startswith(PREFIX) and n not in known):
        nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        warnings.append(f"{name} is not a Mosaic setting and is ignored{hint}")
    return warnings


def expects(field: FieldInfo) -> str:
    """What a field takes, in an operator's words: "a number greater than 0"."""
    bounds = [b for b in (_bound(m) for m in field.metadata) if b]
    return " ".join([_kind(field.annotation), " and ".join(bounds)]).strip()


def _setting(loc: tuple[int | str, ...]) -> tuple[Setting | None, list[int | str]]:
    """The setting an error's location is in (``("crm", "timeout_s")``: the CRM's
    timeout), and the path inside its value; None for a whole group given wrong."""
    for setting in settings_of(Settings):
        if loc[: len(setting.path)] == setting.path:
            return setting, list(loc[len(setting.path) :])
    return None, list(loc)


def _line(error: Mapping[str, Any]) -> str:
    setting, path = _setting(tuple(error["loc"]))
    if setting is None:  # a TOML table or keyword given as a whole group, not an object
        return f"{'.'.join(map(str, path))}: {error['msg'].lower()}"
    field, variable = setting.field, setting.variable
    secret = setting.secret
    if error["type"] == "value_error":  # a validator's own sentence says what is wrong
        return f"{variable}: {error['msg'].removeprefix('Value error, ')}"
    # what the operator typed (a variable's text), unless it is a secret
    typed = isinstance(error["input"], str) and not (secret or path)
    shown = f"={_shown(error['input'])}" if typed else ""
    where = "" if secret or not path else " (at " + ".".join(str(p) for p in path) + ")"
    return f"{variable}{shown}: {error['msg'].lower()}{where}; expects {expects(field)}"


def _unparsed(error: SettingsError) -> str:
    """pydantic-settings could not even read the value: JSON that does not parse."""
    found = re.search(r'field "(\w+)"', str(error))
    setting = by_name(Settings).get(found[1]) if found else None
    if setting is None:
        return str(error)
    cause = f" ({error.__cause__})" if error.__cause__ else ""
    return f"{setting.variable}: not valid JSON{cause}; expects {expects(setting.field)}"


def _shown(text: str) -> str:
    """The text given, quoted, cut short when long."""
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "...")


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types a union stands for, or the annotation alone."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _kind(annotation: Any) -> str:
    kinds = [_one_kind(a) for a in _members(annotation) if a is not type(None)]
    return " or ".join(kinds)


def _one_kind(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(annotation))
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"a JSON object of {_one_kind(key)} to {_one_kind(value)}"
    if origin is list:
        return f"a JSON array of {_one_kind(typing.get_args(annotation)[0])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "{" + ", ".join(f'"{name}": ...' for name in annotation.model_fields) + "}"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


_NAMES: dict[Any, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    SecretStr: "a secret",
    Path: "a file path",
}


def _bound(metadata: object) -> str | None:
    """pydantic's Field(gt=..., ge=...) as words (annotated_types' Gt, Ge, Lt, Le)."""
    for attribute, words in _BOUNDS:
        if (value := getattr(metadata, attribute, None)) is not None:
            return f"{words} {value}"
    return None


_BOUNDS = (("gt", "greater than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most"))
