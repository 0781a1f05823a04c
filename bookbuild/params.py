"""Typed chapter parameters: parse the ``parameters`` cell, validate profiles and overrides.

Papermill silently accepts parameters a notebook does not declare; this module does not. The
``parameters`` cell of a chapter is the single declaration of its knobs::

    profile = "default"  # choices: smoke, default, paper
    n_points = 200       # range: [10, 5000]
    rho = 0.6            # range: (0, 1)
    widths = [64, 128]   # range: [1, 4096]   (applies to every item of a list)

The type of each parameter is the type of its default (an ``int`` is accepted where a ``float``
is declared); the optional trailing comment states a range or a set of choices. Any unknown name,
wrong type or out-of-range value raises :class:`ParameterError` before anything executes.
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ParamSpec",
    "ParameterError",
    "load_profile",
    "parse_parameters_cell",
    "parse_override",
    "resolve_parameters",
]

PROFILES = ("smoke", "default", "paper")

_RANGE_RE = re.compile(r"range:\s*([\[(])\s*([^,\]\)]+)\s*,\s*([^,\]\)]+)\s*([\])])")
_CHOICES_RE = re.compile(r"choices:\s*(.+)$")


class ParameterError(ValueError):
    """A chapter parameter, profile file or override is invalid."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its default, type and optional range or choices."""

    name: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        kind = self.kind.__name__
        if isinstance(self.default, list):
            item = type(self.default[0]).__name__ if self.default else "any"
            kind = f"list of {item}"
        text = kind
        if self.lo is not None or self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            lo = "-inf" if self.lo is None else _fmt_num(self.lo)
            hi = "inf" if self.hi is None else _fmt_num(self.hi)
            text += f" in {left}{lo}, {hi}{right}"
        if self.choices is not None:
            text += " from {" + ", ".join(repr(c) for c in self.choices) + "}"
        return text

    def validate(self, value: Any, *, chapter: str) -> Any:
        """Return ``value`` coerced to the declared type, or raise :class:`ParameterError`."""

        def fail(why: str) -> ParameterError:
            return ParameterError(
                f"chapter {chapter!r}: parameter {self.name!r} = {value!r} is invalid ({why}); "
                f"allowed: {self.allowed()}"
            )

        if isinstance(self.default, list):
            if not isinstance(value, list | tuple):
                raise fail("expected a list")
            proto = self.default[0] if self.default else None
            return [self._scalar(v, proto, fail) for v in value]
        return self._scalar(value, self.default, fail)

    def _scalar(self, value: Any, proto: Any, fail: Any) -> Any:
        if proto is not None:
            if isinstance(proto, bool):
                if not isinstance(value, bool):
                    raise fail("expected a bool")
            elif isinstance(proto, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise fail("expected an int")
            elif isinstance(proto, float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise fail("expected a number")
                value = float(value)
            elif isinstance(proto, str):
                if not isinstance(value, str):
                    raise fail("expected a string")
        if self.choices is not None and value not in self.choices:
            raise fail("not one of the choices")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise fail("not finite")
            lo_bad = self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo)
            hi_bad = self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi)
            if lo_bad or hi_bad:
                raise fail("out of range")
        return value


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _eval_bound(text: str) -> float | None:
    text = text.strip()
    if text in {"inf", "+inf"}:
        return None
    if text == "-inf":
        return None
    node = ast.parse(text, mode="eval").body
    # Allow literal numbers and simple arithmetic such as 2**32 - 1.
    allowed = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Pow, ast.Sub, ast.Add, ast.Mult,
               ast.USub, ast.Div)
    if not all(isinstance(n, allowed + (ast.operator, ast.unaryop)) for n in ast.walk(node)):
        raise ParameterError(f"range bound {text!r} must be a number")
    return float(eval(compile(ast.Expression(node), "<bound>", "eval"), {"__builtins__": {}}))


def _line_comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    return comments


def parse_parameters_cell(source: str, *, chapter: str = "?") -> dict[str, ParamSpec]:
    """Parse the source of a ``parameters`` cell into ``{name: ParamSpec}``.

    Only top-level ``name = <literal>`` assignments are allowed, so that every knob is a plain,
    typed value that papermill can override.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"chapter {chapter!r}: parameters cell is not valid Python: {exc}"
                             ) from None
    comments = _line_comments(source)
    specs: dict[str, ParamSpec] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ParameterError(
                f"chapter {chapter!r}: the parameters cell may only contain 'name = literal' "
                f"lines; line {node.lineno} is not one")
        name = node.targets[0].id
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ParameterError(
                f"chapter {chapter!r}: parameter {name!r} must have a literal default "
                f"(line {node.lineno})") from None
        if isinstance(default, tuple):
            default = list(default)
        kwargs: dict[str, Any] = {}
        comment = comments.get(node.lineno, "")
        if "=" in comment:
            raise ParameterError(
                f"chapter {chapter!r}: the comment of parameter {name!r} contains '=', which "
                f"papermill cannot parse (line {node.lineno}: {comment!r}); reword it")
        if m := _RANGE_RE.search(comment):
            kwargs.update(lo=_eval_bound(m.group(2)), hi=_eval_bound(m.group(3)),
                          lo_open=m.group(1) == "(", hi_open=m.group(4) == ")")
        if m := _CHOICES_RE.search(comment):
            raw = [c.strip() for c in m.group(1).split(",") if c.strip()]
            choices = []
            for c in raw:
                try:
                    choices.append(ast.literal_eval(c))
                except (ValueError, SyntaxError):
                    choices.append(c)
            kwargs["choices"] = tuple(choices)
        spec = ParamSpec(name=name, default=default, **kwargs)
        spec.validate(default, chapter=chapter)  # the default itself must be allowed
        specs[name] = spec
    if "profile" not in specs:
        raise ParameterError(f"chapter {chapter!r}: the parameters cell must declare 'profile'")
    return specs


def parse_override(text: str) -> Any:
    """Parse a command-line value the way papermill's ``-p`` does (a YAML scalar or list)."""
    return yaml.safe_load(text)


def load_profile(path: Path) -> dict[str, dict[str, Any]]:
    """Load ``book/params/<profile>.yaml``: ``{chapters: {chapter: {name: value}}}``."""
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ParameterError(f"unknown profile {path.stem!r}: no file {path.name} in "
                             f"{path.parent.name}/ (known profiles: {', '.join(known)})")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or set(data) - {"profile", "chapters"}:
        raise ParameterError(f"{path.name}: expected top-level keys 'profile' and 'chapters', "
                             f"got {sorted(data) if isinstance(data, dict) else type(data)}")
    if data.get("profile") != path.stem:
        raise ParameterError(f"{path.name}: 'profile' must be {path.stem!r}, "
                             f"got {data.get('profile')!r}")
    chapters = data.get("chapters") or {}
    for name, values in chapters.items():
        if values is not None and not isinstance(values, dict):
            raise ParameterError(f"{path.name}: chapter {name!r} must map to a mapping of "
                                 f"parameters, got {values!r}")
    return {name: dict(values or {}) for name, values in chapters.items()}


def resolve_parameters(
    specs: dict[str, ParamSpec],
    profile: str,
    profile_values: dict[str, Any],
    overrides: dict[str, Any],
    *,
    chapter: str,
) -> dict[str, Any]:
    """Merge defaults ← profile file ← overrides, validating every name, type and range."""
    resolved = {name: spec.default for name, spec in specs.items()}
    for source, values in (("profile file", profile_values), ("override", overrides)):
        for name, value in values.items():
            if name not in specs:
                raise ParameterError(
                    f"chapter {chapter!r}: unknown parameter {name!r} (from {source}); "
                    f"declared parameters: {', '.join(sorted(specs))}")
            resolved[name] = specs[name].validate(value, chapter=chapter)
    resolved["profile"] = specs["profile"].validate(profile, chapter=chapter)
    return resolved
