"""The settings written out from the model: ``mosaic config``'s listing (each variable,
its default, its current value where set, secrets masked, and what it means), the
README's table, and the variables that give a gateway the same settings (the demo's
sources.env, a test's subprocess)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Collection
from typing import Any

from pydantic import SecretStr
from pydantic_core import to_jsonable_python

from gateway.settings.model import Settings
from gateway.settings.names import CONFIG_FILE, settings_of

MASK = "********"
CONFIG_FILE_MEANING = (
    "a TOML file of settings, each keyed by its variable's name without MOSAIC_, in lower "
    "case (crm_timeout_s = 7.5); the environment and the .env file win over it"
)
WIDTH = 88


def listing(settings: Settings, config_file: str | None) -> str:
    """Every setting, group by group: ``MOSAIC_MAX_DEPTH=8 (default 12)`` where set,
    ``MOSAIC_MAX_DEPTH=12 (default)`` where not, then what it means; first the TOML file."""
    given = f"{config_file} (default none)" if config_file else "none (default)"
    lines = [f"{CONFIG_FILE}={given}"]
    lines += textwrap.wrap(
        CONFIG_FILE_MEANING, WIDTH, initial_indent="    ", subsequent_indent="    "
    )
    group = None
    for setting in settings_of(Settings):
        if setting.path[0] != group and len(setting.path) > 1:
            group = setting.path[0]
            about = Settings.model_fields[group].description
            lines += ["", f"# {group}: {about}"]
        value, default = setting.value(settings), setting.default
        shown = MASK if setting.secret and value else _shown(value)
        given = "(default)" if value == default else f"(default {_shown(default)})"
        lines.append(f"{setting.variable}={shown} {given}")
        lines += textwrap.wrap(
            setting.field.description or "",
            WIDTH,
            initial_indent="    ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
    return "\n".join(lines).strip() + "\n"


def markdown() -> str:
    """The README's table of settings: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in settings_of(Settings):
        default = _shown(setting.default)
        cells = [f"`{setting.variable}`", f"`{default}`", setting.field.description or ""]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def variables(settings: Settings, groups: Collection[str] | None = None) -> dict[str, str]:
    """The variables that set what ``settings`` set (each value not its default), in
    ``groups`` only when given, secrets in clear: for a process that must have them."""
    found = {}
    for setting in settings_of(Settings):
        value = setting.value(settings)
        if value is None or value == setting.default:
            continue
        if groups is None or setting.path[0] in groups:
            found[setting.variable] = _text(value)
    return found


def _text(value: Any) -> str:
    """A value as its variable takes it: JSON for objects and lists, else the text."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, (dict, list)):
        return json.dumps(to_jsonable_python(value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _shown(value: Any) -> str:
    """A value for reading, ``none`` for no value."""
    return "none" if value is None else _text(value)
