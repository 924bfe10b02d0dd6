"""The statement that stages raw records for their checks: JSON payloads to typed, flat columns.

One statement per object reads the records once (`sql/quality/stage_raw.sql`), in three levels, each
fenced with OFFSET 0 so nothing is computed twice: the JSON fields are extracted once (e), then typed
and their references resolved by hash joins (t), then the unparseable timestamps are told apart
(outer). The staged columns are named as `checks` asks for them: `<field>`, `<field>__unparsed`,
`<field>__given`, `<field>__type`, `<field>__found`, `attributes__<name>` and the keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from psycopg import sql

from smarketing.quality.checks import REFERENCES
from smarketing.sources.mapping import CANONICAL_FIELDS
from smarketing.sqlfiles import composed

# batch_key (batch and id) is staged only when a check asks for it: several batches in one stage.
RAW_KEYS = ("batch_id", "record_no", "source_id")
# Timestamps the fast path accepts before casting; dq.to_utc_timestamp applies the same test.
# The form every source lands (+00:00) is tested first: OR stops at the first match.
_TS_GUARD = (
    "({v} LIKE '____-__-__T__:__:__%' AND ({v} LIKE '%+__:__' OR {v} LIKE '%Z' OR {v} LIKE '%-__:__'))"
)
_SUFFIXES = ("__unparsed", "__given", "__type", "__found")


@dataclass(frozen=True)
class Selection:
    """Which raw records to stage: these batches, or the records of a source held in quarantine."""

    batch_ids: tuple[int, ...] = ()
    held: bool = False
    # With `held`: leave out records this validation run has just quarantined (nothing changed for them).
    not_from_validation: int | None = None


def raw_stage_sql(
    *,
    object: str,
    source_system: str,
    name: sql.Composable,
    columns: Iterable[str],
    attributes: Mapping[str, str],
    selection: Selection,
    safe_timestamps: bool,
) -> sql.Composed:
    """CREATE TABLE statement staging the selected raw.<object> records of one source system.

    `name`: the staged table (qualified); `columns`: the staged columns the checks read; `attributes`:
    staged column -> unmapped source field it holds; `safe_timestamps`: parse timestamps value by value
    (slower; for when one that looks like a timestamp is not one).
    """
    levels = _Levels(object, source_system, attributes, safe_timestamps)
    columns = list(columns)
    parsed = [c.removesuffix("__unparsed") for c in columns if c.endswith("__unparsed")]
    for column in dict.fromkeys([*RAW_KEYS, *parsed, *columns]):
        levels.add(column)
    return composed(
        "quality",
        "stage_raw",
        name=name,
        outer=sql.SQL(", ").join(levels.outer),
        typed=sql.SQL(", ").join(levels.typed),
        extracted=sql.SQL(", ").join(levels.extracted.values()),
        obj=sql.Identifier(object),
        where=_where(object, source_system, selection),
        joins=sql.SQL(" ").join(levels.joins),
    )


def _where(object: str, source_system: str, selection: Selection) -> sql.Composable:
    if selection.held:
        # Records of rejected batches wait for the batch to be admitted, not for a recheck.
        # Driven from the (small) quarantine through raw's primary key, not by scanning the source's records.
        return sql.SQL(
            "(r.batch_id, r.record_no) IN (SELECT q.batch_id, q.record_no FROM dq.quarantine q"
            " WHERE q.table_name = {t} AND q.source_system = {src} AND q.status = 'held'"
            " AND q.validation_run_id IS DISTINCT FROM {vr}"
            " AND NOT EXISTS (SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = q.batch_id AND v.verdict = 'rejected'))"
        ).format(
            src=sql.Literal(source_system),
            t=sql.Literal(f"raw.{object}"),
            vr=sql.Literal(selection.not_from_validation),
        )
    # A batch holds one source system's records: the batch ids alone select them (one index, not two).
    return sql.SQL("r.batch_id = ANY({}::bigint[])").format(sql.Literal(list(selection.batch_ids)))


class _Levels:
    """The columns of the three levels (e: extracted, t: typed, outer), filled one staged column at a time."""

    def __init__(
        self, object: str, source_system: str, attributes: Mapping[str, str], safe_timestamps: bool
    ) -> None:
        self.object, self.attributes, self.safe = object, attributes, safe_timestamps
        self.source = sql.Literal(source_system)
        self.kinds = CANONICAL_FIELDS[object]
        self.extracted: dict[str, sql.Composable] = {}  # by name: a field read by several columns once
        self.typed: list[sql.Composable] = []
        self.outer: list[sql.Composable] = []
        self.joins: list[sql.Composable] = []

    def add(self, column: str) -> None:
        """Stage `column`: what it is derived from, at each level it passes through."""
        ident = sql.Identifier(column)
        suffix = next((s for s in _SUFFIXES if column.endswith(s)), None)
        if column in ("batch_id", "record_no", "source_id", "batch_key"):
            self._key(column, ident)
        elif column in self.attributes:
            self.extracted[column] = sql.SQL("(r.payload->'attributes'->>{}) AS {}").format(
                sql.Literal(self.attributes[column]), ident
            )
            self.typed.append(sql.SQL("e.{}").format(ident))
        elif suffix == "__unparsed":
            self._unparsed(column.removesuffix(suffix), ident)
            return  # its outer column is its own
        elif suffix == "__given":
            value = self.text_of(column.removesuffix(suffix))
            self.typed.append(sql.SQL("CASE WHEN {} IS NOT NULL THEN true END AS {}").format(value, ident))
        elif suffix == "__type":
            self.extracted[column] = sql.SQL("NULLIF(jsonb_typeof(r.payload->{}), 'null') AS {}").format(
                sql.Literal(column.removesuffix(suffix)), ident
            )
            self.typed.append(sql.SQL("e.{}").format(ident))
        elif suffix == "__found":
            self._found(column.removesuffix(suffix), ident)
        else:
            self._field(column, ident)
        self.outer.append(sql.SQL("t.{}").format(ident))

    def text_of(self, field_name: str) -> sql.Composable:
        """The field's JSON text, extracted once at level e however many columns read it."""
        key = f"{field_name}__text"
        if key not in self.extracted:
            self.extracted[key] = sql.SQL("(r.payload->>{}) AS {}").format(
                sql.Literal(field_name), _text(field_name)
            )
        return sql.SQL("e.{}").format(_text(field_name))

    def _key(self, column: str, ident: sql.Identifier) -> None:
        if column == "batch_key":
            self.typed.append(sql.SQL("(e.batch_id::text || '|' || e.source_id) COLLATE \"C\" AS batch_key"))
            return
        source = sql.SQL('r.source_id COLLATE "C" AS source_id') if column == "source_id" else None
        self.extracted[column] = source or sql.SQL("r.{}").format(ident)
        self.typed.append(sql.SQL("e.{}").format(ident))

    def _unparsed(self, base: str, ident: sql.Identifier) -> None:
        self.typed.append(sql.SQL("{} AS {}").format(self.text_of(base), _text(base)))
        # left(): an unparseable value is shown to nobody, but a huge one should not bloat the stage.
        self.outer.append(
            sql.SQL("CASE WHEN t.{x} IS NOT NULL AND t.{b} IS NULL THEN left(t.{x}, 40) END AS {c}").format(
                x=_text(base), b=sql.Identifier(base), c=ident
            )
        )

    def _found(self, base: str, ident: sql.Identifier) -> None:
        """Whether the reference resolves to a record of the same source that is not held back."""
        target = REFERENCES[(self.object, base)][0]
        alias = sql.Identifier(f"ref_{len(self.joins)}")
        value = self.text_of(base)
        self.joins.append(
            sql.SQL(
                "LEFT JOIN (SELECT DISTINCT x.source_id FROM raw.{target} x WHERE x.source_system = {src}"
                " AND {not_held}) {alias} ON {alias}.source_id = {value}"
            ).format(
                target=sql.Identifier(target),
                src=self.source,
                not_held=_not_held("x", f"raw.{target}"),
                alias=alias,
                value=value,
            )
        )
        self.typed.append(
            sql.SQL("CASE WHEN {v} IS NULL THEN NULL ELSE {a}.source_id IS NOT NULL END AS {c}").format(
                v=value, a=alias, c=ident
            )
        )

    def _field(self, column: str, ident: sql.Identifier) -> None:
        """A canonical field, typed: timestamps parsed, numbers and booleans only from JSON of that type."""
        kind = self.kinds.get(column)
        if kind == "timestamp":
            self.typed.append(sql.SQL("{} AS {}").format(_timestamp(self.text_of(column), self.safe), ident))
        elif kind in ("integer", "number", "boolean"):
            json_type = "boolean" if kind == "boolean" else "number"
            jtype = sql.Identifier(f"{column}__jtype")
            self.extracted[f"{column}__jtype"] = sql.SQL("jsonb_typeof(r.payload->{}) AS {}").format(
                sql.Literal(column), jtype
            )
            self.typed.append(
                sql.SQL("CASE WHEN e.{j} = {jt} THEN {v}::{cast} END AS {c}").format(
                    j=jtype,
                    jt=sql.Literal(json_type),
                    v=self.text_of(column),
                    cast=sql.SQL("boolean" if kind == "boolean" else "numeric"),
                    c=ident,
                )
            )
        elif kind == "text":
            self.typed.append(sql.SQL("{} AS {}").format(self.text_of(column), ident))
        else:
            raise ValueError(f"no staged column '{column}' for raw.{self.object}")


def _not_held(alias: str, table: str) -> sql.Composable:
    return sql.SQL(
        "NOT EXISTS (SELECT 1 FROM dq.quarantine q WHERE q.table_name = {t} AND q.batch_id = {a}.batch_id"
        " AND q.record_no = {a}.record_no)"
        " AND NOT EXISTS (SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = {a}.batch_id AND v.verdict = 'rejected')"
    ).format(t=sql.Literal(table), a=sql.Identifier(alias))


def _text(name: str) -> sql.Identifier:
    return sql.Identifier(f"{name}__text")


def _timestamp(value: sql.Composable, safe: bool) -> sql.Composable:
    if safe:
        return sql.SQL("dq.to_utc_timestamp({})").format(value)
    guard = sql.SQL(_TS_GUARD.replace("{v}", "{0}")).format(value)
    return sql.SQL("CASE WHEN {} THEN {}::timestamptz END").format(guard, value)
