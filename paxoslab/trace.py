"""The trace: an append-only record of everything that happened in a run.

Every send, delivery, drop, timer, fault and protocol state change (a promise,
an accept, a learned value, an applied command) becomes one :class:`Event`.
The trace is what plots, checks and the explorer read; two runs are the same
run exactly when their :meth:`Trace.digest` values are equal.

>>> t = Trace()
>>> t.add(1.0, "crash", node="S1")
>>> t.events[0].kind, len(t.digest())
('crash', 64)
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Event kinds a run produces by the thousand; skipped when ``detailed=False``.
DETAIL_KINDS = frozenset(
    {"send", "deliver", "drop", "duplicate", "timer_set", "timer_fire", "persist"}
)

FRAME_COLUMNS = ["seq", "time", "kind", "node", "src", "dst", "msg_id", "msg_type", "payload"]
MESSAGE_COLUMNS = [
    "msg_id", "src", "dst", "msg_type", "sent_at", "delivered_at", "dropped", "payload",
]


class Event(NamedTuple):
    """One thing that happened at one simulated time (immutable)."""

    seq: int
    time: float
    kind: str
    node: str | None = None
    src: str | None = None
    dst: str | None = None
    msg_id: int | None = None
    msg_type: str | None = None
    payload: dict[str, Any] | None = None


_PLAIN_JSON = frozenset({str, int, float, bool, type(None)})
#: type -> its dataclass field names, or None if it is not a dataclass
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def jsonable(value: Any) -> Any:
    """Messages, ballots and tuples as plain JSON values (ballots as ``"3.1"``); a set as a
    sorted list, the same in every process.

    >>> jsonable(frozenset({"S3", "S1"}))
    ['S1', 'S3']
    """
    kind = type(value)
    if kind in _PLAIN_JSON:
        return value
    if hasattr(kind, "__jsonable__"):
        return value.__jsonable__()
    names = _FIELD_NAMES.get(kind, ())
    if names == ():
        names = _FIELD_NAMES[kind] = (tuple(f.name for f in dataclasses.fields(kind))
                                      if dataclasses.is_dataclass(kind) else None)
    if names is not None:
        return {name: jsonable(getattr(value, name)) for name in names}
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):  # in a fixed order: str() follows the hash seed
        return sorted((jsonable(v) for v in value), key=repr)
    return str(value)


def message_payload(msg: Any) -> dict[str, Any]:
    """A message's fields as JSON, plus its diagram ``label`` if it defines one."""
    payload = jsonable(msg)
    if not isinstance(payload, dict):
        payload = {"value": payload}
    label = getattr(msg, "label", None)
    if label is not None:
        payload["label"] = label()
    return payload


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


class Trace:
    """Append-only list of :class:`Event` records.

    ``detailed=False`` keeps faults and protocol state changes (promised,
    learned, ...) but skips the many message, timer and disk events
    (:data:`DETAIL_KINDS`): what sweeps over thousands of runs want.

    Recording is cheap: :meth:`add_raw` keeps a plain tuple and the immutable
    object the payload is made from (a message, a timer); the :class:`Event`
    objects and their JSON payloads are made only when :attr:`events` is read.
    """

    def __init__(self, detailed: bool = True) -> None:
        self._raw: list[tuple] = []
        self._events: list[Event] = []
        self.detailed = detailed

    @property
    def events(self) -> list[Event]:
        """Every event so far, in order."""
        raw, events = self._raw, self._events
        if len(events) < len(raw):
            made: dict[int, Any] = {}  # a broadcast's copies share one message: one payload
            for seq in range(len(events), len(raw)):
                time, kind, node, src, dst, msg_id, msg_type, payload, make = raw[seq]
                if make is not None:
                    key = id(payload)
                    payload = made[key] if key in made else made.setdefault(key, make(payload))
                events.append(Event(seq, time, kind, node, src, dst, msg_id, msg_type, payload))
        return events

    @events.setter
    def events(self, events: list[Event]) -> None:
        self._events = list(events)
        self._raw = [(e.time, e.kind, e.node, e.src, e.dst, e.msg_id, e.msg_type, e.payload, None)
                     for e in self._events]

    def add(self, time: float, kind: str, node: str | None = None, src: str | None = None,
            dst: str | None = None, msg_id: int | None = None, msg_type: str | None = None,
            payload: dict[str, Any] | None = None) -> None:
        """Append an event; the keywords are the optional :class:`Event` fields."""
        if not self.detailed and kind in DETAIL_KINDS:
            return
        self._raw.append((time, kind, node, src, dst, msg_id, msg_type, payload, None))

    def add_raw(self, time: float, kind: str, node: str | None, src: str | None, dst: str | None,
                msg_id: int | None, msg_type: str | None, source: Any,
                make: Callable[[Any], Any]) -> None:
        """Append an event whose payload is ``make(source)``, computed when first read.

        ``source`` must not change afterwards (the simulator passes isolated
        messages and timers).  The caller checks :attr:`detailed` itself.
        """
        self._raw.append((time, kind, node, src, dst, msg_id, msg_type, source, make))

    def __len__(self) -> int:
        return len(self._raw)

    #: False only for :class:`NoTrace`
    records = True

    def __iter__(self):
        return iter(self.events)

    def of_kind(self, *kinds: str) -> list[Event]:
        """The events whose kind is one of ``kinds``, in order."""
        return [e for e in self.events if e.kind in kinds]

    # ---- serialisation -------------------------------------------------
    def to_records(self) -> list[dict[str, Any]]:
        """Plain dicts, one per event (JSON-able)."""
        return [{**e._asdict(), "payload": copy.deepcopy(e.payload)} for e in self.events]

    def to_json(self) -> str:
        """A JSON text that :meth:`from_json` turns back into an equal trace."""
        return json.dumps(
            {"detailed": self.detailed, "events": self.to_records()},
            sort_keys=True, separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Trace:
        data = json.loads(text)
        trace = cls(detailed=data.get("detailed", True))
        trace.events = [Event(**e) for e in data["events"]]
        return trace

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of all events: equal runs, equal digests."""
        body = _ENCODER.encode([tuple(e) for e in self.events])
        digest = hashlib.sha256(body.encode())
        return digest.hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and self.events == other.events

    # ---- tables (pandas imported only here) ----------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per event, columns ``FRAME_COLUMNS``."""
        import pandas as pd

        return pd.DataFrame(self.to_records(), columns=FRAME_COLUMNS)

    def message_rows(self) -> list[dict[str, Any]]:
        """One dict per message (each duplicate copy is its own message)."""
        rows: dict[int, dict[str, Any]] = {}
        for e in self.events:
            if e.kind in ("send", "duplicate"):
                rows[e.msg_id] = {
                    "msg_id": e.msg_id, "src": e.src, "dst": e.dst, "msg_type": e.msg_type,
                    "sent_at": e.time, "delivered_at": None, "dropped": False,
                    "payload": e.payload,
                }
            elif e.kind == "deliver" and e.msg_id in rows:
                rows[e.msg_id]["delivered_at"] = e.time
            elif e.kind == "drop" and e.msg_id in rows:
                rows[e.msg_id]["dropped"] = True
                rows[e.msg_id]["dropped_at"] = e.time
        return list(rows.values())

    def messages(self) -> pd.DataFrame:
        """One row per message, columns ``MESSAGE_COLUMNS``."""
        import pandas as pd

        return pd.DataFrame(self.message_rows(), columns=MESSAGE_COLUMNS)


class NoTrace(Trace):
    """Records nothing at all (the search's many worlds need no trace)."""

    records = False

    def __init__(self) -> None:
        super().__init__(detailed=False)

    def add(self, *args: Any, **fields: Any) -> None:
        pass

    def add_raw(self, *args: Any) -> None:
        pass
