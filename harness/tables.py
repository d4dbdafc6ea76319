"""Strict conversion of TOML tables into frozen dataclasses.

Every experiment, device profile and backend option set is a frozen dataclass; this module turns a
TOML table into one, rejecting unknown keys and wrong types with a message that names the file, the
key and the valid choices.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["choice", "from_table", "load_toml"]

T = TypeVar("T")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning a missing file or a syntax error into a ``ConfigError``."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a folder, not a TOML file") from None


def choice(value: str, valid: typing.Iterable[str], where: str) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise a ConfigError listing them."""
    options = sorted(valid)
    if value not in options:
        raise ConfigError(f"{where}: unknown value {value!r}; valid: {', '.join(options)}")
    return value


def from_table(cls: type[T], table: dict[str, Any], where: str) -> T:
    """Build dataclass ``cls`` from ``table``; ``where`` names the place for error messages."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(fields)) or '(none)'}")
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(table[name], hints[name], f"{where}.{name}") for name in table}
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        missing = [n for n, f in fields.items() if _required(f) and n not in table]
        raise ConfigError(f"{where}: missing key {missing[0]!r}" if missing else f"{where}: {exc}") from None


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a type hint; convert lists to tuples and ints to floats where declared."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(v, item, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return from_table(hint, value, where)  # type: ignore[arg-type]
    return _scalar(value, hint, where)


def _scalar(value: Any, hint: Any, where: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
