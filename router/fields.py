"""Value types of the rule file: names, tiers, durations, hours, "one or a list".

Each is an ``Annotated`` type with the parsing that turns what admins write
(``"1h30m"``, ``"80%"``, ``"09:00-17:00"``, ``email`` or ``[email, sms]``)
into a value, and the JSON Schema that says what is accepted.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema

from router.durations import DURATION_HELP, parse_duration

T = TypeVar("T")

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
Tier = Annotated[int, Field(ge=1, le=3, description="tier 1 (first line) to 3")]
Clock = Literal["first_response", "next_response", "resolution"]
Trigger = Literal[
    "first_response.warning",
    "first_response.breach",
    "next_response.warning",
    "next_response.breach",
    "resolution.warning",
    "resolution.breach",
    "agent",
]
DayKey = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "weekdays", "weekend", "daily"]


def _listify(value: Any) -> Any:
    # "channel: email" and "channel: [email, sms]" both mean a list.
    return value if isinstance(value, list | tuple) else [value]


def one_or_many(item: Any) -> Any:
    """A list type that also accepts a single item, and says so in the schema."""
    return Annotated[
        list[item],
        BeforeValidator(_listify, json_schema_input_type=item | list[item]),
    ]


# ``OneOrMany[X]`` is the annotation form of ``one_or_many(X)``. A call is not
# a type to mypy, and a plain generic alias cannot carry X into the
# validator's ``json_schema_input_type``; so, as pydantic does for
# ``SkipValidation``, the checker sees the validated value (a list of X)
# while at runtime subscripting builds the same ``Annotated`` type as before.
if TYPE_CHECKING:
    OneOrMany = list[T]
else:

    class OneOrMany:
        def __class_getitem__(cls, item: Any) -> Any:
            return one_or_many(item)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected {DURATION_HELP}; a bare number has no unit")
    parsed = parse_duration(value)
    if parsed <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return parsed


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\s*(\d+w)?\s*(\d+d)?\s*(\d+h)?\s*(\d+m)?\s*(\d+s)?\s*$",
         "description": DURATION_HELP, "examples": ["30s", "15m", "4h", "2d", "1h30m"]}
    ),
]


def _fraction(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage such as 80%") from None
    return value


Fraction = Annotated[
    float,
    BeforeValidator(_fraction, json_schema_input_type=float | str),
    Field(gt=0, lt=1, description="a fraction of the target (0.8) or a percentage ('80%')"),
]

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_range(text: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time range such as 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ValueError(f"{text!r}: times run from 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts; split a night shift across two days")
    return start, end


def _day_hours(value: Any) -> tuple[tuple[int, int], ...]:
    if value is None or value is False or value == "closed":
        return ()
    if value in ("24h", "open"):
        return ((0, 24 * 60),)
    items = value if isinstance(value, list) else [value]
    ranges = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("expected 'HH:MM-HH:MM', a list of them, 'closed' or '24h'")
        ranges.append(_parse_range(item))
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        if start < end:
            raise ValueError("opening hours of one day overlap")
    return tuple(ranges)


DayHours = Annotated[
    tuple[tuple[int, int], ...],
    BeforeValidator(_day_hours, json_schema_input_type=str | list[str] | None),
    WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
         "description": "'09:00-17:00', a list of ranges, 'closed' or '24h'"}
    ),
]


def _attr_values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")  # matches how attributes are stored
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise ValueError("expected a value or a list of values")
    return out


AttrValues = Annotated[
    list[str],
    BeforeValidator(_attr_values, json_schema_input_type=str | int | bool | list[str | int | bool]),
]
