"""Scores as a test or a benchmark wants them, without a scoring run.

scoring.lead_scores is a view computed from what scores are computed from (migration 0020), so a fixture
cannot insert a score: `put_scores` stores inputs that read back as the given score. Each combination of
grade, band and MQL state gets a model of its own whose thresholds give exactly that (one grade and one
band from any value on, an MQL line every total meets or none), with one engagement rule that neither
fades nor caps: the lead's state under it is its engagement (total - fit). Every fixture score reads as
of one moment, the last `as_of` given.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

MIN_ID, MAX_ID = -(2**63), 2**63 - 1

PUT_SCORES = """
CREATE TEMP TABLE IF NOT EXISTS _fixture_scores (
    lead_id bigint, fit integer, total numeric, grade text, band text, is_mql boolean, version text, hash text
) ON COMMIT DROP;
TRUNCATE _fixture_scores;
INSERT INTO _fixture_scores
SELECT lead_id, fit, total, grade, band, is_mql, version,
       concat_ws('/', 'fixture', grade, band, CASE WHEN is_mql THEN 'mql' END)
FROM ({source}) s (lead_id, fit, total, grade, band, is_mql, version);

INSERT INTO scoring.models (model_version, config_hash, definition)
SELECT DISTINCT version, hash, jsonb_build_object(
    'grades', CASE WHEN grade IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_array(grade, -1e9)) END,
    'engagement_bands',
        CASE WHEN band IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_array(band, -1e9)) END,
    'mql_min_score', CASE WHEN is_mql THEN -1e9 END)
FROM _fixture_scores ON CONFLICT DO NOTHING;
INSERT INTO scoring.profiles (config_hash, profile_id, half_life_days, floor, profile_no)
SELECT DISTINCT hash, 'default', NULL::float8, NULL::numeric, 1 FROM _fixture_scores ON CONFLICT DO NOTHING;
INSERT INTO scoring.rules (config_hash, model_version, profile_id, kind, rule_id, rule_no, description, points)
SELECT DISTINCT ON (hash) hash, version, 'default', 'engagement', 'fixture', 0, 'engagement as given', 1
FROM _fixture_scores ON CONFLICT DO NOTHING;

DELETE FROM scoring.lead_score_inputs WHERE lead_id IN (SELECT lead_id FROM _fixture_scores);
DELETE FROM scoring.rule_state WHERE lead_id IN (SELECT lead_id FROM _fixture_scores);
INSERT INTO scoring.lead_score_inputs (lead_id, fits, model_version, config_hash)
SELECT lead_id, ARRAY[fit], version, hash FROM _fixture_scores;
INSERT INTO scoring.rule_state (lead_id, rule_no, value, as_of)
SELECT lead_id, 0, total - fit, {as_of} FROM _fixture_scores;
DELETE FROM scoring.scored_ranges;
INSERT INTO scoring.scored_ranges (low, high, as_of, run_id, scored_at)
VALUES ({low}, {high}, {as_of}, 'fixture', now());
"""


def put_scores(conn: psycopg.Connection, source: str, as_of: object) -> None:
    """Give the leads of `source` (a query of lead_id, fit, total, grade, engagement band, is_mql, model
    version, with its values inline) those scores in scoring.lead_scores, as of `as_of`."""
    conn.execute(
        sql.SQL(PUT_SCORES).format(  # type: ignore[arg-type]  # a constant
            source=sql.SQL(source),  # type: ignore[arg-type]  # the caller's constant query
            as_of=sql.Literal(as_of),
            low=sql.Literal(MIN_ID),
            high=sql.Literal(MAX_ID),
        )
    )


def put_score(
    conn: psycopg.Connection,
    lead_id: int,
    total: float,
    *,
    as_of: object,
    fit: int = 10,
    grade: str | None = "C",
    band: str | None = None,
    is_mql: bool = False,
    version: str = "t",
) -> None:
    """One lead's score (see `put_scores`)."""
    values = sql.SQL(
        "VALUES ({}::bigint, {}::integer, {}::numeric, {}::text, {}::text, {}::boolean, {}::text)"
    ).format(*(sql.Literal(v) for v in (lead_id, fit, total, grade, band, is_mql, version)))
    put_scores(conn, values.as_string(conn), as_of)


def clear_scores(conn: psycopg.Connection) -> None:
    """No lead has a score."""
    conn.execute("TRUNCATE scoring.lead_score_inputs, scoring.rule_state, scoring.scored_ranges")
