"""Scores computed when read, against the scores table: what readers and nights would pay. Prints JSON.

    .venv/bin/python bench/score_reads.py --dsn DSN_4M     # a warehouse kept by bench/score.py --keep

Issue #18 item 3: a night with 1% new events must write at most 5% of a full rescore's rows, and a night
rewrites `scoring.lead_scores` for every lead because fading moves every engaged lead's total. The way
out that was tried twice is a score computed when read from rows that change only with the lead's
inputs. Before building it a third time, this measures two such forms on a warehouse bench/score.py kept
(after its night), in a scratch schema `bench_reads` dropped at the end:

* `closed_form`: one row per lead with the fit, the flags as of the scoring time, C (the caps that bind)
  and A (the other rules' uncapped sum); a lead-id range's row holds its reference time and the fading
  factor, so engagement = max(floor, round(C + A x factor, 2)): one rounding of the sum;
  (`closed_form_float_cast`: the same with the float8 result cast to numeric, as a first try did);
* `per_rule`: one row per lead with every rule's uncapped value (an array); each rule capped and rounded
  when read, as the engine and the agreement define it.

Each view has lead_scores' columns and types; engagement and total go through whole cents (int8).

For each, next to the table: how many leads' engagement differs from it by a cent or more (a night would
have to rewrite those) and the server CPU (/proc, this backend; best of `--repeat`) of each reader:
COPY of every score; count(*); the MQL ids (sql/nurture/005_scope.sql's read); every lead joined (a full
nurture plan, the account roll-up, write-back); the SLA clock's score join (sla/store.py) for a
first-load window (every MQL) and an hourly one (a thirtieth of them); sql/nurture/010_leads.sql unscoped
(a full plan) and sql/nurture/005_scope.sql (an incremental one), run as they are with the table's name
replaced. Then `rewrites_per_night`: from the engine state, for 14 nights of fading alone, the leads whose
stored closed form would give another engagement (to the cent) or whose band or MQL state would move,
under the agreement's per-rule rounding and under one rounding of the sum, and what one rounding of the
sum would change in today's scores.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import psycopg

from smarketing.config.loading import load_config
from smarketing.nurture import matching
from smarketing.scoring.kernel import bands_for, grades_for, mql_flags
from smarketing.scoring.model import load_model
from smarketing.scoring.runner import shard_bounds
from smarketing.warehouse.connection import connect

TICK = os.sysconf("SC_CLK_TCK")
SERIAL = False  # --current-only: every read without parallel workers
EPOCH0 = 1.7e9  # seconds: A is stored scaled to this instant, so one factor per range fades every lead

BUILD = """
DROP SCHEMA IF EXISTS bench_reads CASCADE;
CREATE SCHEMA bench_reads;
CREATE TABLE bench_reads.times AS
SELECT v.low, v.high, t.as_of, t.run_id, t.scored_at,
       power(2::float8, -(extract(epoch FROM t.as_of) - {epoch0}) / (p.half_life_days * 86400)) AS factor,
       b.lo, b.hi
FROM {ranges} AS v(low, high)
CROSS JOIN (SELECT max(as_of) AS as_of, max(run_id) AS run_id, max(scored_at) AS scored_at
            FROM scoring.lead_scores) t
CROSS JOIN (SELECT half_life_days FROM scoring.profiles
            WHERE config_hash = (SELECT max(config_hash) FROM scoring.lead_scores)) p
CROSS JOIN (SELECT array_agg(CASE WHEN points < 0 THEN -cap::float8 ELSE '-Infinity' END ORDER BY rule_no) lo,
                   array_agg(CASE WHEN points >= 0 THEN coalesce(cap::float8, 'Infinity') ELSE 'Infinity' END
                             ORDER BY rule_no) hi
            FROM scoring.rules WHERE kind = 'engagement'
              AND config_hash = (SELECT max(config_hash) FROM scoring.lead_scores)) b;
CREATE TEMP TABLE cells AS
SELECT s.lead_id, r.rule_no,
       coalesce(scoring.faded(st.value, st.as_of, s.as_of, p.half_life_days), 0) AS v,
       r.points, r.cap::float8 AS cap
FROM scoring.lead_scores s
JOIN scoring.profiles p ON p.config_hash = s.config_hash
JOIN scoring.rules r ON r.config_hash = s.config_hash AND r.kind = 'engagement'
LEFT JOIN scoring.rule_state st ON st.lead_id = s.lead_id AND st.rule_no = r.rule_no;
CREATE TABLE bench_reads.closed_state AS
SELECT s.lead_id, s.fit, f.floor::float8 AS floor, x.c,
       x.a / (SELECT factor FROM bench_reads.times LIMIT 1) AS a,
       s.grade, s.engagement_band, s.priority, s.is_mql, s.profile_id, s.model_version, s.config_hash,
       s.history_on
FROM scoring.lead_scores s
JOIN scoring.profiles f ON f.config_hash = s.config_hash
JOIN (SELECT lead_id,
             sum(CASE WHEN cap IS NOT NULL AND abs(v) >= cap THEN sign(points) * cap ELSE 0 END) AS c,
             sum(CASE WHEN cap IS NOT NULL AND abs(v) >= cap THEN 0 ELSE v END) AS a
      FROM cells GROUP BY lead_id) x ON x.lead_id = s.lead_id;
CREATE TABLE bench_reads.rule_values AS
SELECT c.lead_id, c.fit, c.floor, x.state, c.grade, c.engagement_band, c.priority, c.is_mql, c.profile_id,
       c.model_version, c.config_hash, c.history_on
FROM bench_reads.closed_state c
JOIN (SELECT lead_id, array_agg(v / (SELECT factor FROM bench_reads.times LIMIT 1) ORDER BY rule_no) AS state
      FROM cells GROUP BY lead_id) x ON x.lead_id = c.lead_id;
CREATE INDEX ON bench_reads.closed_state (lead_id);
CREATE INDEX ON bench_reads.rule_values (lead_id);
"""
VIEW = """
CREATE VIEW bench_reads.{view} AS
SELECT s.lead_id, s.fit, {engagement} AS engagement, {total} AS total, s.grade,
       s.engagement_band, s.priority, s.is_mql, s.profile_id, s.model_version, s.config_hash, t.as_of,
       t.scored_at, t.run_id, s.history_on
FROM bench_reads.{table} s
JOIN bench_reads.times t ON s.lead_id BETWEEN t.low AND t.high
CROSS JOIN LATERAL ({cents}) e
"""
# Whole cents as int8, then numeric: a float8 -> numeric cast (through its text form) doubled a full read.
IN_CENTS = ("(e.cents * 0.01)::numeric(12, 2)", "((s.fit * 100 + e.cents) * 0.01)::numeric(12, 2)")
CAST = ("(e.cents / 100::float8)::numeric(12, 2)", "(s.fit + e.cents / 100::float8)::numeric(12, 2)")
CLOSED = "SELECT greatest(s.floor * 100, round((s.c + s.a * t.factor) * 100::float8))::int8 AS cents"
PER_RULE = (
    "SELECT greatest(s.floor * 100, sum(round(least(greatest(v * t.factor, lo), hi) * 100::float8)))::int8"
    " AS cents FROM unnest(s.state, t.lo, t.hi) AS u(v, lo, hi)"
)
CANDIDATES = {  # name: (table, cents, (engagement, total))
    "closed_form": ("closed_state", CLOSED, IN_CENTS),
    "closed_form_float_cast": ("closed_state", CLOSED, CAST),
    "per_rule": ("rule_values", PER_RULE, IN_CENTS),
}
TARGETS = {"table": "scoring.lead_scores", **{name: f"bench_reads.{name}" for name in CANDIDATES}}
QUERIES = {
    "copy_all": "COPY (SELECT * FROM {t}) TO STDOUT",
    "count": "SELECT count(*) FROM {t}",
    "mql_ids": "SELECT count(*) FROM (SELECT lead_id FROM {t} WHERE is_mql) x",
    "join_every_lead": "SELECT sum(s.total), count(s.grade) FROM core.leads w LEFT JOIN {t} s ON s.lead_id = w.lead_id",
    # `smarketing status` and the Smarketing page (warehouse/status.py, ui/warehouse.py).
    "status_grades": "SELECT coalesce(grade, 'ungraded'), count(*) FROM {t} GROUP BY 1",
    "status_mqls": "SELECT count(*) FILTER (WHERE is_mql) FROM {t}",
    # The account roll-up (sql/scoring/account_scores.sql without its INSERT).
    "account_rollup": (
        "SELECT l.company_id, count(*), count(*) FILTER (WHERE s.engagement > 0), count(*) FILTER (WHERE s.is_mql),"
        " max(s.total), min(s.grade), sum(s.engagement), (array_agg(s.lead_id ORDER BY s.total DESC, s.lead_id))[1]"
        " FROM {t} s JOIN core.leads l ON l.lead_id = s.lead_id WHERE l.company_id IS NOT NULL GROUP BY l.company_id"
    ),
    # "Why is lead 42 at its score?" and the SLA clock's per-lead reads: one lead by id.
    "one_lead_x200": "SELECT * FROM {t} WHERE lead_id = ANY(SELECT lead_id FROM core.leads ORDER BY hashint8(lead_id) LIMIT 200)",
}
TABLE_COPY = """
DROP SCHEMA IF EXISTS bench_reads CASCADE;
CREATE SCHEMA bench_reads;
CREATE TABLE bench_reads.lead_scores_table AS SELECT * FROM scoring.lead_scores;
CREATE INDEX ON bench_reads.lead_scores_table (lead_id);
"""
CURRENT = {"lead_scores": "scoring.lead_scores", "as_a_table": "bench_reads.lead_scores_table"}
SLA_JOIN = (
    "SELECT w.lead_id, s.total::double precision, s.grade::text FROM _sla_window w "
    "LEFT JOIN {t} s ON s.lead_id = w.lead_id"
)
SLA_WINDOWS = {"sla_first_load_window": "", "sla_hourly_window": " AND lead_id % 30 = 0"}


def backend_cpu(conn: psycopg.Connection) -> float:
    pid = conn.info.backend_pid
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def best(
    dsn: str,
    repeat: int,
    prepare: Callable[[psycopg.Connection], None],
    run: Callable[[psycopg.Connection], None],
) -> dict:
    """Least server CPU (and its wall time) of `repeat` runs, each in a fresh session rolled back."""
    runs = []
    for _ in range(repeat):
        with connect(dsn) as conn:
            if SERIAL:
                # No parallel workers: all of the read's CPU is in the one backend measured.
                conn.execute("SET max_parallel_workers_per_gather = 0")
            prepare(conn)
            cpu, wall = backend_cpu(conn), time.perf_counter()
            run(conn)
            runs.append((backend_cpu(conn) - cpu, time.perf_counter() - wall))
            conn.rollback()
    cpu, wall = min(runs)
    return {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}


def drain(conn: psycopg.Connection, query: str) -> None:
    if query.startswith("COPY"):
        with conn.cursor().copy(query) as copy:
            for _ in copy:
                pass
    else:
        conn.execute(query).fetchall()


def reader_costs(dsn: str, repeat: int, targets: dict[str, str] = TARGETS) -> dict:
    agreement = load_config()
    as_of = datetime(2026, 11, 17, 3, tzinfo=UTC)
    out: dict[str, dict] = {}
    for name, table in targets.items():
        costs = {}
        for query, text in QUERIES.items():
            statement = text.format(t=table)
            costs[query] = best(dsn, repeat, lambda c: None, lambda c, s=statement: drain(c, s))
        for window, extra in SLA_WINDOWS.items():

            def prepare(conn: psycopg.Connection, extra: str = extra) -> None:
                conn.execute(
                    f"CREATE TEMP TABLE _sla_window AS SELECT lead_id FROM scoring.lead_scores WHERE is_mql{extra}"
                )
                conn.execute("ANALYZE _sla_window")

            join = SLA_JOIN.format(t=table)
            costs[window] = best(dsn, repeat, prepare, lambda c, s=join: drain(c, s))

        def full_plan(conn: psycopg.Connection, table: str = table) -> None:
            params = matching.lead_params(agreement, as_of)
            conn.execute(
                matching.scoped_statement("010_leads", params).replace("scoring.lead_scores", table), params
            )

        def scope(conn: psycopg.Connection, table: str = table) -> None:
            params = {
                **matching.lead_params(agreement, as_of),
                "since": datetime(2026, 11, 16, 3, tzinfo=UTC),
            }
            conn.execute(matching.statement("005_scope").replace("scoring.lead_scores", table), params)

        def nurture_session(conn: psycopg.Connection) -> None:
            matching.prepare_session(conn)
            conn.execute("CREATE TEMP TABLE nurture_scope (lead_id bigint) ON COMMIT DROP")

        costs["nurture_full_plan_leads"] = best(dsn, repeat, nurture_session, full_plan)
        costs["nurture_incremental_scope"] = best(dsn, repeat, matching.prepare_session, scope)
        out[name] = costs
    return out


def contribution_costs(dsn: str, repeat: int, leads: int = 200) -> dict:
    """What reading the explanation costs: scoring.contributions whole (COPY) and per lead (`leads` engaged
    leads, one query each, as "why is lead 42 at its score?" asks), server CPU, best of `repeat`."""
    with connect(dsn) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT lead_id FROM (SELECT DISTINCT lead_id FROM scoring.rule_state) x "
                "ORDER BY hashint8(lead_id) LIMIT %s",
                (leads,),
            )
        ]

    def each(conn: psycopg.Connection) -> None:
        for lead in ids:
            conn.execute("SELECT * FROM scoring.contributions WHERE lead_id = %s", (lead,)).fetchall()

    def serial(conn: psycopg.Connection) -> None:
        # No parallel workers: all of the read's CPU is in the one backend measured.
        conn.execute("SET max_parallel_workers_per_gather = 0")

    whole = "COPY (SELECT * FROM scoring.contributions) TO STDOUT"
    return {
        "copy_all": best(dsn, repeat, serial, lambda c: drain(c, whole)),
        f"per_lead_x{len(ids)}": best(dsn, repeat, serial, each),
    }


def rewrites_per_night(dsn: str, nights: int = 14) -> dict:
    """Leads a stored closed form (C + A x fade, flags) would have to rewrite per night of fading alone."""
    model = load_model()
    profile = model.profiles[0]
    rules = profile.engagement.rules
    points = np.array([r.points for r in rules], float)
    cap = np.array([np.inf if r.cap is None else r.cap for r in rules], float)
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT s.lead_id, s.fit, st.rule_no, scoring.faded(st.value, st.as_of, s.as_of, %s) "
            "FROM scoring.lead_scores s LEFT JOIN scoring.rule_state st USING (lead_id) ORDER BY 1",
            (profile.engagement.half_life_days,),
        ).fetchall()
    ids, index = np.unique(np.array([r[0] for r in rows]), return_inverse=True)
    fit = np.zeros(len(ids))
    fit[index] = [r[1] for r in rows]
    state = np.zeros((len(ids), len(rules)))
    known = np.array([r[2] is not None for r in rows])
    state[index[known], np.array([r[2] for r in rows if r[2] is not None], int)] = [
        r[3] for r in rows if r[2] is not None
    ]
    bound = np.where(points >= 0, cap, np.inf), np.where(points < 0, -cap, -np.inf)
    floor = -np.inf if profile.engagement.floor is None else profile.engagement.floor
    half_life = profile.engagement.half_life_days

    def engagement(values: np.ndarray, per_rule: bool) -> np.ndarray:
        capped = np.clip(values, bound[1], bound[0])
        capped = np.round(capped, 2) if per_rule else capped
        return np.round(np.maximum(np.round(capped.sum(axis=1), 2), floor), 2)

    grade = grades_for(fit, model)

    def flags(e: np.ndarray) -> np.ndarray:
        return np.char.add(bands_for(e, model).astype(str), mql_flags(fit + e, grade, model).astype(str))

    agreed, summed = engagement(state, True), engagement(state, False)
    out: dict = {
        # What one rounding of the sum would change today: the agreement's scores move by cents.
        "one_rounding_changes": {
            "leads": int((np.abs(agreed - summed) > 0.001).sum()),
            "max_points": round(float(np.abs(agreed - summed).max()), 2),
            "mql_flips": int(
                (mql_flags(fit + agreed, grade, model) != mql_flags(fit + summed, grade, model)).sum()
            ),
        }
    }
    for per_rule in (True, False):
        binding = (state >= bound[0]) | (state <= bound[1])
        c = np.where(binding, np.clip(state, bound[1], bound[0]), 0).sum(axis=1)
        a = np.where(binding, 0, state).sum(axis=1)
        since = np.zeros(len(ids))
        before = flags(engagement(state, per_rule))
        counts = []
        for night in range(1, nights + 1):
            values = state * np.exp2(-night / half_life)
            exact = engagement(values, per_rule)
            closed = np.round(
                np.maximum(np.round(c + a * np.exp2(-(night - since) / half_life), 2), floor), 2
            )
            now = flags(exact)
            rewrite = (np.abs(closed - exact) > 0.001) | (now != before)
            counts.append(int(rewrite.sum()))
            binding = (values >= bound[0]) | (values <= bound[1])
            c = np.where(rewrite, np.where(binding, np.clip(values, bound[1], bound[0]), 0).sum(axis=1), c)
            a = np.where(rewrite, np.where(binding, 0, values).sum(axis=1), a)
            since = np.where(rewrite, night, since)
            before = now
        out["per_rule_rounding" if per_rule else "one_rounding_of_the_sum"] = counts
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dsn", required=True, help="A warehouse kept by bench/score.py --keep, after its night."
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--contributions-only", action="store_true", help="Measure the reads of scoring.contributions only."
    )
    parser.add_argument(
        "--current-only",
        action="store_true",
        help="Measure the readers of scoring.lead_scores as the warehouse has it (a table before migration"
        " 0035, the closed-form view after it) and of scoring.contributions, nothing else: before/after.",
    )
    args = parser.parse_args()
    out: dict = {"load_before": os.getloadavg()}
    if args.current_only:
        global SERIAL
        SERIAL = True
        try:
            with connect(args.dsn, autocommit=True) as conn:
                # The same scores as a table next to them, both vacuumed (autovacuum would have been by
                # the time anyone reads them): the readers' cost of the form, alternately, same data.
                conn.execute(TABLE_COPY)
                conn.execute("VACUUM ANALYZE bench_reads.lead_scores_table")
                if conn.execute("SELECT to_regclass('scoring.score_rows')").fetchone()[0]:
                    conn.execute("VACUUM ANALYZE scoring.score_rows, scoring.score_clock")
            out["contributions_cpu"] = contribution_costs(args.dsn, args.repeat)
            out["reader_cpu"] = reader_costs(args.dsn, args.repeat, CURRENT)
        finally:
            with connect(args.dsn, autocommit=True) as conn:
                conn.execute("DROP SCHEMA IF EXISTS bench_reads CASCADE")
        out["load_after"] = os.getloadavg()
        print(json.dumps(out, indent=2))
        return
    try:
        with connect(args.dsn, autocommit=True) as conn:
            # The reference time is kept per lead-id range, like the shards of a run (readers never see
            # half a run): the four ranges the runner would cut.
            ranges = ", ".join(f"('{s.low}'::bigint, '{s.high}'::bigint)" for s in shard_bounds(conn, 4))
            conn.execute(BUILD.format(epoch0=EPOCH0, ranges=f"(VALUES {ranges})"))
            for name, (table, cents, (engagement, total)) in CANDIDATES.items():
                conn.execute(
                    VIEW.format(view=name, table=table, cents=cents, engagement=engagement, total=total)
                )
            conn.execute(
                "VACUUM ANALYZE bench_reads.closed_state, bench_reads.rule_values, bench_reads.times"
            )
            out["leads_differing_from_the_table_by_a_cent"] = {
                name: conn.execute(
                    f"SELECT count(*) FROM scoring.lead_scores s JOIN {table} v USING (lead_id) "
                    "WHERE abs(s.engagement - v.engagement) >= 0.01"
                ).fetchone()[0]
                for name, table in TARGETS.items()
                if name != "table"
            }
        out["contributions_cpu"] = contribution_costs(args.dsn, args.repeat)
        if not args.contributions_only:
            out["reader_cpu"] = reader_costs(args.dsn, args.repeat)
            out["rewrites_per_night"] = rewrites_per_night(args.dsn)
    finally:
        with connect(args.dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS bench_reads CASCADE")
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
