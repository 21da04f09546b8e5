"""Each setting's environment variable, and the sources that read the settings by them.

The settings are nested (``crm.timeout_s``), but operators name them flat, as they
always have: ``MOSAIC_CRM_TIMEOUT_S``, in the environment, in a ``.env`` file, as a key
of the TOML file ``MOSAIC_CONFIG_FILE`` names, and as keyword arguments of ``Settings``
and ``load`` (``crm_timeout_s=...``). pydantic-settings' ``env_nested_delimiter`` cannot
say that: ``MOSAIC_MAX_DEPTH`` belongs to the limits and ``MOSAIC_CACHE`` to the cache
group, neither by a prefix. So each group declares its variables' prefix (and a field
its whole name, as an alias, where it has neither); the sources pydantic-settings reads
are kept, run over a flat model made from those names (JSON values, ``.env`` files and
TOML read exactly as before), and their answers are nested by the same names.
"""

from __future__ import annotations

import functools
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, create_model
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PREFIX = "MOSAIC_"
#: the variable naming the TOML file, read before any setting
CONFIG_FILE = "MOSAIC_CONFIG_FILE"


class Group(BaseModel):
    """A group of settings; each field's variable is ``MOSAIC_`` + ``env_prefix`` + its
    name, or ``MOSAIC_`` + its alias."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)
    env_prefix: ClassVar[str] = ""


@dataclass(frozen=True)
class Setting:
    """One setting: where it sits in the model, the name operators give it, its field."""

    path: tuple[str, ...]  # ("crm", "timeout_s"), or ("env",) at the top
    name: str  # the flat name, lower case: "crm_timeout_s"
    field: FieldInfo
    default: Any

    @property
    def variable(self) -> str:
        return PREFIX + self.name.upper()

    @property
    def secret(self) -> bool:
        """Whether its value is a secret (never shown): a ``SecretStr``, or marked
        ``secret`` in the model (keys of partners, tokens by role)."""
        extra = self.field.json_schema_extra
        marked = isinstance(extra, dict) and extra.get("secret") is True
        return marked or SecretStr in typing.get_args(self.field.annotation)

    def value(self, settings: BaseModel) -> Any:
        return functools.reduce(getattr, self.path, settings)


@functools.cache
def settings_of(settings_cls: type[BaseModel]) -> tuple[Setting, ...]:
    """Every setting of ``settings_cls``, in declaration order."""
    found = []
    for name, field in settings_cls.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, Group):
            group = field.get_default(call_default_factory=True)
            for leaf, leaf_field in kind.model_fields.items():
                flat = leaf_field.alias or kind.env_prefix + leaf
                found.append(Setting((name, leaf), flat, leaf_field, getattr(group, leaf)))
        else:
            found.append(
                Setting((name,), name, field, field.get_default(call_default_factory=True))
            )
    return tuple(found)


def by_name(settings_cls: type[BaseModel]) -> dict[str, Setting]:
    """The settings by flat name (``crm_timeout_s``)."""
    return {setting.name: setting for setting in settings_of(settings_cls)}


def nested(values: Mapping[str, Any], settings_cls: type[BaseModel]) -> dict[str, Any]:
    """``values`` by flat name, as the nested model takes them; a key that is no flat
    name (a whole group, ``{"crm": {...}}``) is kept, the flat names inside it winning."""
    names = by_name(settings_cls)
    result: dict[str, Any] = {}
    for key, value in values.items():
        setting = names.get(key.lower())
        if setting is None:
            given = dict(value) if isinstance(value, Mapping) else value
            kept = result.get(key)
            result[key] = (
                {**given, **kept} if isinstance(kept, dict) and isinstance(given, dict) else given
            )
            continue
        *groups, leaf = setting.path
        target = result
        for group in groups:
            target = target.setdefault(group, {})
        target[leaf] = value
    return result


@functools.cache
def flat_model(settings_cls: type[BaseSettings]) -> type[BaseSettings]:
    """A model with one field per setting, named flat: what pydantic-settings' own
    sources read the environment, .env and TOML files with."""
    config = settings_cls.model_config
    base = type(
        "FlatBase",
        (BaseSettings,),
        {
            "model_config": SettingsConfigDict(
                env_prefix=config.get("env_prefix", ""),
                env_file=config.get("env_file"),
                extra="ignore",
            ),
            "__module__": __name__,
        },
    )
    fields: dict[str, Any] = {
        setting.name: (setting.field.annotation, None) for setting in settings_of(settings_cls)
    }
    return create_model(f"Flat{settings_cls.__name__}", __base__=base, **fields)


class ByFlatNames(PydanticBaseSettingsSource):
    """Another source's values, read by flat name, nested as the model takes them."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.source = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ answers for every field at once

    def __call__(self) -> dict[str, Any]:
        return nested(self.source(), self.settings_cls)

    def __repr__(self) -> str:
        return f"ByFlatNames({self.source!r})"


def flat_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    dotenv_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources, strongest first: keyword arguments, the environment, the .env file
    (``_env_file`` or the model's), the TOML file ``MOSAIC_CONFIG_FILE`` names."""
    flat = flat_model(settings_cls)
    assert isinstance(dotenv_settings, DotEnvSettingsSource)
    sources: list[PydanticBaseSettingsSource] = [
        init_settings,
        EnvSettingsSource(flat),
        DotEnvSettingsSource(
            flat,
            env_file=dotenv_settings.env_file,
            env_file_encoding=dotenv_settings.env_file_encoding,
        ),
    ]
    toml_file = os.environ.get(CONFIG_FILE)
    if toml_file:
        sources.append(TomlConfigSettingsSource(flat, toml_file))
    return tuple(ByFlatNames(settings_cls, source) for source in sources)
