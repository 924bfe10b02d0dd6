"""Mautic's segment membership and point change logs in the sandbox world.

Real Mautic writes one `lead_event_log` row per contact added to or removed from a segment and one
`lead_points_change_log` row per point change; its activity timeline shows them as the events
`segment_membership` and `point.gained`. The sandbox keeps both logs as `ApiTable`s beside the
world's activity, built on first use: the world's tags are its segments (`api_mautic.segments`
lists them), and each tag a contact has is a membership added when the contact was created.
`change_segments` and `change_points` make the world move between pulls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smarketing_sandbox.api_world import ApiTable, ApiWorld
from smarketing_sandbox.marketing import TAG_NAMES

SEGMENT_LOG = "mautic.segment_log"
POINT_LOG = "mautic.point_log"
ADDED, REMOVED = "added", "removed"


def _log_table(name: str, contacts: np.ndarray, at: np.ndarray, props: dict[str, list[str]]) -> ApiTable:
    return ApiTable(
        name,
        ids=np.arange(1, len(contacts) + 1, dtype=np.int64),
        modified=at.astype(np.int64),
        created=at.astype(np.int64).copy(),
        props={k: pa.array(v, pa.string()) for k, v in props.items()},
        links={"contact": contacts.astype(np.int64)},
    )


def segment_log(world: ApiWorld) -> ApiTable:
    """The membership log; first built from the contacts' tags (added when the contact was created)."""
    with world.lock:
        if SEGMENT_LOG not in world.tables:
            contacts = world.table("mautic.contacts")
            tags = pd.Series(contacts.props["tags"].to_pylist(), dtype=object).fillna("")
            pairs = tags.str.split(",").explode()
            pairs = pairs[pairs.isin(TAG_NAMES)]
            rows = pairs.index.to_numpy()
            created = contacts.created[rows]
            world.tables[SEGMENT_LOG] = _log_table(
                "segment_log",
                contacts.ids[rows],
                created - created % 1000,  # Mautic keeps times to the second
                {"action": [ADDED] * len(rows), "segment": pairs.tolist()},
            )
        return world.tables[SEGMENT_LOG]


def point_log(world: ApiWorld) -> ApiTable:
    """The point change log: empty in a generated world (its points are totals), filled by change_points."""
    with world.lock:
        if POINT_LOG not in world.tables:
            empty = np.array([], dtype=np.int64)
            world.tables[POINT_LOG] = _log_table(
                "point_log", empty, empty, {"delta": [], "event_name": [], "action_name": []}
            )
        return world.tables[POINT_LOG]


def memberships(world: ApiWorld) -> pd.DataFrame:
    """Every (contact, segment) the log ever held: is_member, added_at (start of the current or last
    membership), removed_at and changed_at, all epoch ms. The world's truth for the tests."""
    log = segment_log(world)
    frame = pd.DataFrame(
        {
            "contact": log.links["contact"],
            "segment": log.props["segment"].to_pylist(),
            "added": np.asarray(pc.equal(log.props["action"], ADDED)),
            "at": log.modified,
            "id": log.ids,
        }
    ).sort_values(["contact", "segment", "at", "id"])
    keys = ["contact", "segment"]
    # Removals before each row: the rows of one membership streak share that count.
    frame["streak"] = (~frame["added"]).astype(int).groupby([frame[k] for k in keys]).cumsum()
    frame["streak"] -= (~frame["added"]).astype(int)
    last = frame.groupby(keys, sort=False).tail(1).set_index([*keys, "streak"])
    starts = frame[frame["added"]].groupby([*keys, "streak"])["at"].min()
    out = pd.DataFrame(
        {
            "is_member": last["added"],
            "added_at": starts.reindex(last.index).to_numpy(),
            "removed_at": np.where(last["added"], np.nan, last["at"]),
            "changed_at": last["at"],
        }
    )
    return out.reset_index(level="streak", drop=True)


def _append(table: ApiTable, contacts: np.ndarray, now: int, props: dict[str, list[str]]) -> None:
    n = len(contacts)
    ids = np.arange(n, dtype=np.int64) + (int(table.ids.max()) + 1 if len(table) else 1)
    table.append(ids, np.full(n, now), np.full(n, now), props, links={"contact": contacts})


def change_segments(world: ApiWorld, *, adds: int = 0, removes: int = 0) -> int:
    """Remove random members from their segment and add random contacts to a segment they are not in,
    now; the contacts' tags follow (the sandbox's `search=segment:` reads them)."""
    with world.lock:
        log = segment_log(world)
        state = memberships(world)
        now = world.now_ms() // 1000 * 1000
        current = state.index[state["is_member"].to_numpy()]
        leave = current[world.rng.permutation(len(current))[: max(0, removes)]]
        contacts = world.table("mautic.contacts").ids
        drawn = pd.MultiIndex.from_arrays(
            [world.rng.choice(contacts, max(0, adds)), world.rng.choice(TAG_NAMES, max(0, adds))],
            names=["contact", "segment"],
        )
        join = drawn[~drawn.isin(current)].unique()
        changes = [(leave, REMOVED), (join, ADDED)]
        for pairs, action in changes:
            if len(pairs):
                _append(
                    log,
                    pairs.get_level_values("contact").to_numpy(dtype=np.int64),
                    now,
                    {"action": [action] * len(pairs), "segment": pairs.get_level_values("segment").tolist()},
                )
        _retag(world)
        return sum(len(p) for p, _ in changes)


def _retag(world: ApiWorld) -> None:
    state = memberships(world)
    members = state[state["is_member"].to_numpy()].reset_index()
    tags = members.groupby("contact")["segment"].agg(lambda s: ",".join(sorted(s)))
    contacts = world.table("mautic.contacts")
    current = pd.Series(contacts.ids).map(tags)
    contacts.props["tags"] = pa.array(current, pa.string(), from_pandas=True)


def change_points(world: ApiWorld, count: int, *, delta: int = 5) -> int:
    """`count` random contacts gain `delta` points now: their points and modified time change, and the
    point change log gets one row each."""
    with world.lock:
        contacts = world.table("mautic.contacts")
        if count <= 0 or len(contacts) == 0:
            return 0
        rows = world.rng.choice(len(contacts), size=min(count, len(contacts)), replace=False)
        now = world.now_ms() // 1000 * 1000
        points = pc.cast(contacts.props["points"].take(pa.array(rows)), pa.int64()).to_numpy(
            zero_copy_only=False
        )
        contacts.set_props(rows, {"points": [str(int(p) + delta) for p in points]})
        contacts.modified[rows] = now
        contacts.changed()
        _append(
            point_log(world),
            contacts.ids[rows],
            now,
            {
                "delta": [str(delta)] * len(rows),
                "event_name": ["Manual adjustment"] * len(rows),
                "action_name": ["API"] * len(rows),
            },
        )
        return len(rows)


def mutate(
    world: ApiWorld, *, segment_adds: int = 0, segment_removes: int = 0, points: int = 0
) -> dict[str, int]:
    """`POST /_sandbox/mutate` keys for the logs: segment memberships added and removed, point changes."""
    changed = (
        change_segments(world, adds=segment_adds, removes=segment_removes)
        if segment_adds or segment_removes
        else 0
    )
    return {"segment_changes": changed, "point_changes": change_points(world, points)}
