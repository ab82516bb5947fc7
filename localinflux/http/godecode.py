"""Request bodies decoded the way InfluxDB's Go handlers decode them (``encoding/json``).

InfluxDB decodes a JSON body into a Go struct: keys match field names case-insensitively,
unknown keys and ``null`` values are ignored, and a value of the wrong type (a string where a
number goes, an object where a string goes, ``1.5`` for an integer) is an
``UnmarshalTypeError`` whose text names the struct, the field's path and the Go type, e.g.
``json: cannot unmarshal string into Go struct field retentionRule.retentionRules.everySeconds
of type int64``. The first such error is reported after the whole body was read; an ID that
does not decode stops at once (``id must have a length of 16 bytes``). Each handler wraps the
message its own way (``failed to unmarshal json: ...``), see ``decode``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from localinflux.http.wire import HttpError, Request

_ID_RE = re.compile(r"[0-9A-Fa-f]{16}")
_INT_RE = re.compile(r"-?[0-9]+")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_WS = " \t\r\n"


@dataclass(frozen=True)
class Kind:
    """A Go type: ``kind`` is how it decodes, ``name`` what ``reflect.Type.String()`` says."""

    kind: str  # "string", "int64", "id", "time", "slice", "struct", "ptr"
    name: str
    elem: Kind | None = None  # of a slice or pointer
    fields: dict[str, Kind] = field(default_factory=dict)  # of a struct, by JSON name


def struct(go_name: str, **fields: Kind) -> Kind:
    return Kind("struct", go_name, fields=fields)


def slice_of(elem: Kind) -> Kind:
    return Kind("slice", "[]" + elem.name, elem)


def ptr(elem: Kind) -> Kind:
    """A pointer: a value of the wrong type names the pointed-to type, except for a type that
    decodes itself from text (an ID), where Go names the pointer type."""
    if elem.kind == "id":
        elem = Kind("id", "*" + elem.name)
    return Kind("ptr", elem.name, elem)


def string(name: str = "string") -> Kind:
    return Kind("string", name)


INT64 = Kind("int64", "int64")
ID = Kind("id", "platform.ID")
TIME = Kind("time", "time.Time")


class _Num(str):
    """A JSON number, kept as its literal text (Go checks the literal)."""


class _Obj(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept."""


class _Abort(Exception):
    """An error that stops Go's decoder at once (a ``TextUnmarshaler``'s or ``Unmarshaler``'s)."""


def _json_kind(value) -> str:
    if isinstance(value, _Obj):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Num):
        return "number"
    return "string"


class _Decoder:
    def __init__(self) -> None:
        self.saved: str | None = None  # the first UnmarshalTypeError, as Go keeps it
        self.struct: str | None = None  # the innermost struct being filled
        self.stack: list[str] = []  # the JSON names from the top

    def fail(self, value_text: str, kind: Kind) -> None:
        if self.saved is not None:
            return
        if self.struct is not None:
            where = f"Go struct field {self.struct}.{'.'.join(self.stack)}"
        else:
            where = "Go value"
        self.saved = f"json: cannot unmarshal {value_text} into {where} of type {kind.name}"

    def value(self, kind: Kind, v):
        if v is None:  # null: pointers and slices become nil, everything else is left alone
            return None
        if kind.kind == "ptr":
            return self.value(kind.elem, v)
        if kind.kind == "time":
            if not isinstance(v, str) or isinstance(v, _Num):
                raise _Abort("Time.UnmarshalJSON: input is not a JSON string")
            return v
        json_kind = _json_kind(v)
        if kind.kind == "struct":
            if json_kind != "object":
                return self.fail(json_kind, kind)
            return self.object(kind, v)
        if kind.kind == "slice":
            if json_kind != "array":
                return self.fail(json_kind, kind)
            items = [self.value(kind.elem, item) for item in v]
            if kind.elem.kind == "struct":  # a null element is the zero struct
                items = [{} if item is None else item for item in items]
            return items
        if json_kind in ("object", "array", "bool"):
            return self.fail(json_kind, kind)
        if kind.kind == "int64":
            if json_kind != "number":
                return self.fail(json_kind, kind)
            if not _INT_RE.fullmatch(v) or not _INT64[0] <= int(v) <= _INT64[1]:
                return self.fail(f"number {v}", kind)
            return int(v)
        if json_kind == "number":
            return self.fail("number", kind)
        if kind.kind == "id":
            if len(v) != 16:
                raise _Abort("id must have a length of 16 bytes")
            if not _ID_RE.fullmatch(v) or int(v, 16) == 0:
                raise _Abort("invalid ID")
            return str(v)
        return str(v)

    def object(self, kind: Kind, pairs: _Obj) -> dict:
        out: dict = {}
        folded = {name.lower(): name for name in kind.fields}
        outer = self.struct
        for key, v in pairs:
            name = key if key in kind.fields else folded.get(key.lower())
            if name is None:
                continue  # unknown keys are ignored
            self.struct = kind.name.rpartition(".")[2]
            self.stack.append(name)
            decoded = self.value(kind.fields[name], v)
            self.stack.pop()
            if v is not None or kind.fields[name].kind in ("ptr", "slice"):
                out[name] = decoded
        self.struct = outer
        return out


def _parse_constant(name: str):
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


_JSON = json.JSONDecoder(
    object_pairs_hook=_Obj, parse_int=_Num, parse_float=_Num, parse_constant=_parse_constant
)


def go_unmarshal(body: bytes, kind: Kind) -> dict:
    """``json.NewDecoder(body).Decode(&v)`` for a struct ``kind``: the fields that were set, by
    JSON name. Raises ``ValueError`` with Go's message when Go's decoder fails."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid character in request body: {exc.reason}") from None
    start = len(text) - len(text.lstrip(_WS))
    if start == len(text):
        raise ValueError("EOF")  # an empty body
    try:
        value, _ = _JSON.raw_decode(text, start)  # the first value; what follows is unread
    except json.JSONDecodeError as exc:
        raise ValueError(exc.msg) from None
    except RecursionError:  # Go's decoder stops at 10,000 levels, Python's parser sooner
        raise ValueError("exceeded max depth") from None
    dec = _Decoder()
    try:
        out = dec.value(kind, value)
    except _Abort as exc:
        raise ValueError(str(exc)) from None
    if dec.saved is not None:
        raise ValueError(dec.saved)
    return out or {}


UNMARSHAL = "failed to unmarshal json"  # the REST kit's ``DecodeJSON`` (buckets, orgs)


def decode(req: Request, kind: Kind, *, prefix: str | None, code: str = "invalid") -> dict:
    """The body of ``req`` as InfluxDB's handler decodes it into ``kind``.

    ``prefix`` is what that handler puts before Go's message (``"failed to unmarshal json"``
    through the REST kit, ``"invalid json structure"`` for authorizations); None means the
    handler passes Go's error on bare, which InfluxDB answers as 500 ``internal error``.
    """
    try:
        return go_unmarshal(req.body, kind)
    except ValueError as exc:
        if prefix is None:
            raise HttpError("internal error", str(exc), indent=True) from None
        raise HttpError(code, f"{prefix}: {exc}", indent=True) from None


# The request structs of InfluxDB 2.7's handlers (tenant, authorization packages).

RETENTION_RULE = struct(
    "tenant.retentionRule",
    type=string(),
    everySeconds=INT64,
    shardGroupDurationSeconds=INT64,
)
POST_BUCKET = struct(
    "tenant.postBucketRequest",
    orgID=ID,
    name=string(),
    description=string(),
    rp=string(),
    retentionRules=slice_of(RETENTION_RULE),
)
BUCKET_UPDATE = struct(
    "tenant.bucketUpdate",
    name=ptr(string()),
    description=ptr(string()),
    retentionRules=slice_of(
        struct(
            "tenant.retentionRuleUpdate",
            type=string(),
            everySeconds=ptr(INT64),
            shardGroupDurationSeconds=ptr(INT64),
        )
    ),
)
ORGANIZATION = struct(
    "influxdb.Organization",
    id=ID,
    name=string(),
    description=string(),
    createdAt=TIME,
    updatedAt=TIME,
)
ORGANIZATION_UPDATE = struct(
    "influxdb.OrganizationUpdate", Name=ptr(string()), description=ptr(string())
)
_RESOURCE = struct(
    "influxdb.Resource", type=string("influxdb.ResourceType"), id=ptr(ID), orgID=ptr(ID)
)
POST_AUTHORIZATION = struct(
    "authorization.postAuthorizationRequest",
    status=string("influxdb.Status"),
    orgID=ID,
    userID=ptr(ID),
    description=string(),
    permissions=slice_of(
        struct("influxdb.Permission", action=string("influxdb.Action"), resource=_RESOURCE)
    ),
)
AUTHORIZATION_UPDATE = struct(
    "influxdb.AuthorizationUpdate",
    status=ptr(string("influxdb.Status")),
    description=ptr(string()),
)
ONBOARDING = struct(
    "influxdb.OnboardingRequest",
    username=string(),
    password=string(),
    org=string(),
    bucket=string(),
    retentionPeriodSeconds=INT64,
    retentionPeriodHrs=Kind("int64", "time.Duration"),
    token=string(),
)
