"""A parsed FlowSpec text that can be written back without losing anything.

Decision — raw dict plus typed views, not an "extras" bag per object. FlowSpec has some fifty object
types and an open set of engine-specific keys; an extras bag would have to be threaded through every
one of them, and each forgotten bag silently loses data. Instead :class:`FlowSpecDocument` keeps the
decoded JSON exactly as read (Python dicts keep key order, so order, key spelling such as ``do-while``
/ ``flow`` / ``nodeOutputs``, empty objects, explicit defaults, ``null`` values and unknown keys all
survive by construction) and the typed, normalized view lives elsewhere (:mod:`.convert` reads it,
:mod:`.apply` writes the modelled fields back into a copy). The cost — typed code must read dicts
through checked accessors — is paid once, in :mod:`.access`.

Round-trip contract: ``dumps(parse(text))`` is *byte-identical* to ``text`` when the JSON input was
written the way DataWorks and Python write it (one indentation width, ``", "``/``": "`` separators, no
insignificant spaces, numbers in shortest form); the style — indentation, ASCII escaping, trailing
newline — is detected from the input and reused. Any other JSON text comes back JSON-equal with
identical key order. YAML input comes back as YAML with the same keys in the same order but without
comments or original quoting (PyYAML does not keep them).

YAML support needs PyYAML, which is imported lazily: JSON documents never need it, and a YAML
document without PyYAML installed fails with a :class:`FlowSpecError` that says so.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from flowyard.flowspec.errors import FlowSpecError

__all__ = ["FlowSpecDocument", "JsonStyle", "dumps", "parse"]

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class JsonStyle:
    """How the input JSON was laid out, so that :func:`dumps` can reproduce it."""

    indent: int | None = 2
    ensure_ascii: bool = False
    trailing_newline: bool = False


@dataclass
class FlowSpecDocument:
    """A FlowSpec document: the decoded tree exactly as read, plus how it was written.

    ``data`` is the whole document (``version``, ``kind``, ``metadata``, ``spec`` …) and is the single
    source of truth. The accessors below look the envelope keys up case-insensitively, like the
    reference parser. Use :meth:`copy` before changing ``data`` if the original must stay intact.
    """

    data: dict[str, Any]
    source_format: Literal["json", "yaml"] = "json"
    style: JsonStyle = field(default_factory=JsonStyle)

    def envelope_key(self, name: str) -> str | None:
        """The spelling of top-level key ``name`` in this document (case-insensitive), or None."""
        for key in self.data:
            if key.lower() == name.lower():
                return key
        return None

    @property
    def version(self) -> str:
        key = self.envelope_key("version")
        return str(self.data[key]) if key is not None else ""

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        """``version`` as integers; only valid on a document that :func:`parse` accepted."""
        match = _SEMVER.match(self.version)
        if match is None:
            raise FlowSpecError("$.version", f"version {self.version!r} is not of the form d.d.d")
        return int(match[1]), int(match[2]), int(match[3])

    @property
    def kind(self) -> str:
        key = self.envelope_key("kind")
        return str(self.data[key]) if key is not None else ""

    @property
    def body_path(self) -> str:
        """JSON path of the body: ``$.spec``, or ``$`` for 1.0.0 documents that have no wrapper."""
        key = self.envelope_key("spec")
        return f"$.{key}" if key is not None else "$"

    @property
    def body(self) -> dict[str, Any]:
        """The ``spec`` object, or the root itself when there is no ``spec`` key (1.0.0 style)."""
        key = self.envelope_key("spec")
        if key is None:
            return self.data
        value = self.data[key]
        if not isinstance(value, dict):
            raise FlowSpecError(self.body_path, "must be an object")
        return value

    def copy(self) -> FlowSpecDocument:
        """A deep copy; changing it never affects this document."""
        return FlowSpecDocument(copy.deepcopy(self.data), self.source_format, self.style)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # A duplicate key would be silently dropped by a plain json.loads, breaking round trip.
            raise FlowSpecError("$", f"duplicate key {key!r} in one object")
        result[key] = value
    return result


def _detect_style(text: str) -> JsonStyle:
    indent: int | None = None
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(stripped) < len(line):
            indent = len(line) - len(stripped)
            break
    ascii_only = text.isascii()
    return JsonStyle(
        indent=indent,
        ensure_ascii=ascii_only and "\\u" in text,
        trailing_newline=text.endswith("\n"),
    )


def _load_yaml(text: str) -> Any:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise FlowSpecError(
            "$", "the document is not JSON, and YAML input needs PyYAML, which is not installed"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowSpecError("$", f"not valid JSON or YAML: {exc}") from None


def parse(text: str | bytes) -> FlowSpecDocument:
    """Parse FlowSpec ``text`` (JSON, or YAML when it does not start with ``{``) into a document.

    Checks only the envelope: the root is an object, ``version`` is a ``d.d.d`` string with major 1 or
    2, ``kind`` is a non-empty string, and ``spec`` is an object (or, for 1.0.0 only, absent — the body
    is then the root). Layout and content are checked by :mod:`.layouts` and :mod:`.convert`.
    Raises :class:`FlowSpecError` naming the path of the first problem.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FlowSpecError("$", f"not UTF-8 text: {exc}") from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise FlowSpecError("$", "the document is empty")
    source_format: Literal["json", "yaml"]
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped, object_pairs_hook=_reject_duplicates)
        except json.JSONDecodeError as exc:
            raise FlowSpecError(
                "$", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        source_format, style = "json", _detect_style(stripped)
    else:
        data = _load_yaml(stripped)
        source_format, style = "yaml", JsonStyle()
    if not isinstance(data, dict):
        raise FlowSpecError("$", f"the document must be an object, not {type(data).__name__}")
    doc = FlowSpecDocument(data, source_format, style)
    _check_envelope(doc)
    return doc


def _check_envelope(doc: FlowSpecDocument) -> None:
    version_key = doc.envelope_key("version")
    if version_key is None:
        raise FlowSpecError("$", "missing required key 'version'")
    version = doc.data[version_key]
    if not isinstance(version, str) or _SEMVER.match(version) is None:
        raise FlowSpecError(
            f"$.{version_key}", f"version must be a string of the form d.d.d, got {version!r}"
        )
    major = doc.version_tuple[0]
    if major not in (1, 2):
        raise FlowSpecError(f"$.{version_key}", f"unsupported version {version!r} (supported: 1.x.y, 2.0.0)")
    kind_key = doc.envelope_key("kind")
    if kind_key is None:
        raise FlowSpecError("$", "missing required key 'kind'")
    kind = doc.data[kind_key]
    if not isinstance(kind, str) or not kind:
        raise FlowSpecError(f"$.{kind_key}", f"kind must be a non-empty string, got {kind!r}")
    spec_key = doc.envelope_key("spec")
    if spec_key is None:
        if version != "1.0.0":
            raise FlowSpecError(
                "$", f"missing required key 'spec' (only version 1.0.0 may omit it, got {version})"
            )
        return
    if not isinstance(doc.data[spec_key], dict):
        raise FlowSpecError(f"$.{spec_key}", "spec must be an object")


def dumps(doc: FlowSpecDocument, fmt: Literal["json", "yaml"] | None = None) -> str:
    """Serialize ``doc`` as text in ``fmt`` (default: the format it was parsed from).

    JSON output uses the style detected at parse time (see the module docstring for exactness).
    """
    fmt = fmt or doc.source_format
    if fmt == "yaml":
        yaml = importlib.import_module("yaml")
        text: str = yaml.safe_dump(doc.data, sort_keys=False, allow_unicode=True, default_flow_style=False)
        return text
    style = doc.style
    text = json.dumps(doc.data, indent=style.indent, ensure_ascii=style.ensure_ascii)
    return text + "\n" if style.trailing_newline else text
