"""What the text validators enforce, said in JSON Schema, so the OpenAPI schema tells the truth.

Pydantic publishes a `StringConstraints` rule as `minLength`/`maxLength` of
the string sent, but `strip_whitespace=True` measures the string after its
leading and trailing whitespace is removed: `"a" + " " * 300` is a valid
title. The validators after it (`reject_nul`, `require_visible`,
`_check_password`) publish nothing at all. Contract tests then send values
the schema allows and the service refuses (a title "\\u0086"), and clients
generated from the schema refuse values the service takes.

`Documented` replaces what pydantic derives with the rule as the validators
apply it. `refused_text` matches what strip-then-measure and `reject_nul`
refuse (a schema says it as `not`), `VISIBLE_CHARACTER` what `require_visible`
asks for; both are built from the very sets the validators use, and the
tests hold pattern and validator to the same answer on generated input. The
patterns are searches, as JSON Schema applies them, written so that they
neither anchor nor repeat without bound: schemathesis rewrites such
quantifiers into ones its regex engine takes seconds to compile. They use
only what ECMA-262 (JSON Schema's dialect), Python and Rust read alike:
`\\uXXXX` escapes in the BMP, characters beyond it as themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from src.models.base import INVISIBLE_RANGES

# Unicode White_Space: what `strip_whitespace=True` removes (pydantic-core trims with Rust's
# `str::trim`). Not Python's `str.isspace`, which also holds U+001C..U+001F.
STRIPPED_RANGES = (
    (0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)  # fmt: skip


def character_class(ranges: Iterable[tuple[int, int]], *, negated: bool = False) -> str:
    """A regex character class of `ranges` (inclusive pairs of code points), or of the rest."""

    def char(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    items = "".join(char(lo) if lo == hi else f"{char(lo)}-{char(hi)}" for lo, hi in ranges)
    return f"[{'^' if negated else ''}{items}]"


VISIBLE_CHARACTER = character_class([(0, 0), *INVISIBLE_RANGES], negated=True)
"""Found in a string with a visible character (`require_visible`); NUL is not one."""

NO_NUL = "^[^\\u0000]*$"
"""The `reject_nul` rule: no U+0000 anywhere."""


def refused_text(max_length: int) -> str:
    """Found in a string that `StringConstraints(strip_whitespace=True, max_length=...)` and
    `reject_nul` refuse: a NUL anywhere, or more than `max_length` characters from the first
    character that is not whitespace to the last (the length once the ends are stripped)."""
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    kept = character_class(STRIPPED_RANGES, negated=True)
    return f"\\u0000|{kept}[\\s\\S]{{{max_length - 1},}}{kept}"


def trimmed_text_pattern(min_length: int, max_length: int) -> str:
    """The anchored form of the same rule: whole strings whose stripped length is `min_length`
    (0 or 1) to `max_length`, with no NUL. Exact, but `W*` at either end is what schemathesis
    rewrites beside a `minLength` into a quantifier that takes seconds to compile: prefer
    `"not": {"pattern": refused_text(max_length)}`."""
    if min_length not in (0, 1) or max_length < 1:
        raise ValueError("a trimmed text pattern needs min_length 0 or 1 and max_length >= 1")
    space = character_class(STRIPPED_RANGES)
    edge = character_class([(0, 0), *STRIPPED_RANGES], negated=True)
    kept = edge if max_length == 1 else f"{edge}(?:[^\\u0000]{{0,{max_length - 2}}}{edge})?"
    return f"^{space}*{kept if min_length else f'(?:{kept})?'}{space}*$"


def ends_with_label(labels: Iterable[str]) -> str:
    """Found in a string ending in `.label` for any of `labels`, in any ASCII letter case."""

    def caseless(label: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in label)

    return f"\\.(?:{'|'.join(caseless(label) for label in sorted(labels))})$"


@dataclass(frozen=True, eq=False)  # hashed by identity: `Annotated` hashes its metadata
class Documented:
    """`Annotated` metadata: the JSON Schema of a type as its validators enforce it.

    `keywords` are set in every schema of the type. `untrue_of_input` names
    keywords pydantic derives that hold for the value the model keeps (and
    sends back) but not for the value a client sends: they are removed from
    the request schema only.
    """

    keywords: Mapping[str, Any]
    untrue_of_input: tuple[str, ...] = ()

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = dict(handler(core_schema))
        if handler.mode == "validation":
            for keyword in self.untrue_of_input:
                schema.pop(keyword, None)
        schema.update(self.keywords)
        return schema


def omitted_not_null(*names: str) -> Callable[[dict[str, Any]], None]:
    """A model's `json_schema_extra` for fields that may be omitted but never sent as null.

    The fields are typed `X | None = None` (None only means "not sent", and a
    validator refuses it when sent), so pydantic publishes them as nullable
    with a null default. This drops the null branch and the default from the
    schema. Typing them `X | SkipJsonSchema[None]` would do the same in the
    schema but turn each into a union, whose errors carry the union member in
    `loc` after the field's name.
    """

    def publish(schema: dict[str, Any]) -> None:
        for name in names:
            field = schema["properties"][name]
            field.pop("default", None)
            kept = [branch for branch in field.pop("anyOf", []) if branch != {"type": "null"}]
            if len(kept) == 1:
                field.update(kept[0])
            elif kept:
                field["anyOf"] = kept

    return publish
