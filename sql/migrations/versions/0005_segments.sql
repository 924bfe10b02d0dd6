-- Segments: marketing-tool segment memberships from raw to core, and point changes as an event type.

-- ---------------------------------------------------------------------------------------------
-- raw: LIKE copies the shape every raw table shares (columns, key, indexes, column comments), so
-- this one cannot drift from the foundation's. Its lead_source_id index comes along with it: the
-- core build re-resolves memberships whose contact arrived after them.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE raw.segment_memberships (LIKE raw.marketing_events INCLUDING ALL);
COMMENT ON TABLE raw.segment_memberships IS
    'Landed segment membership changes (a contact added to or removed from a segment) exactly as received, keyed by canonical field names; append-only history.';

-- ---------------------------------------------------------------------------------------------
-- core
-- ---------------------------------------------------------------------------------------------
CREATE TABLE core.segment_memberships (
    source_system   text        NOT NULL,
    source_id       text        NOT NULL,
    segment_id      text        NOT NULL,
    lead_id         bigint      NOT NULL REFERENCES core.leads (lead_id),
    segment_name    text,
    segment_alias   text,
    is_member       boolean     NOT NULL,
    added_at        timestamptz,
    removed_at      timestamptz,
    changed_at      timestamptz NOT NULL,
    PRIMARY KEY (source_system, source_id, segment_id)
);
-- "Who is in segment X now": one index range per segment.
CREATE INDEX segment_memberships_segment_idx ON core.segment_memberships (source_system, segment_id) WHERE is_member;
CREATE INDEX segment_memberships_lead_idx ON core.segment_memberships (lead_id);
COMMENT ON TABLE core.segment_memberships IS 'Segment (list) memberships of leads in the marketing tool: who is in which segment now and since when, and who left when.';
COMMENT ON COLUMN core.segment_memberships.source_system IS 'Source system name (the marketing tool).';
COMMENT ON COLUMN core.segment_memberships.source_id IS 'Contact id in that source (one lead may have several contacts).';
COMMENT ON COLUMN core.segment_memberships.segment_id IS 'Segment id in the source.';
COMMENT ON COLUMN core.segment_memberships.lead_id IS 'Lead (core.leads) the contact belongs to.';
COMMENT ON COLUMN core.segment_memberships.segment_name IS 'Segment name as of the latest change.';
COMMENT ON COLUMN core.segment_memberships.segment_alias IS 'Segment alias (the short name used in search and nurturing targets).';
COMMENT ON COLUMN core.segment_memberships.is_member IS 'True while the contact is in the segment; false once it was removed.';
COMMENT ON COLUMN core.segment_memberships.added_at IS 'Start of the current membership (or of the last one, after a removal); when the source never logged it, when it was first seen.';
COMMENT ON COLUMN core.segment_memberships.removed_at IS 'When the contact left the segment; empty while it is a member.';
COMMENT ON COLUMN core.segment_memberships.changed_at IS 'Time of the latest membership change the source reported.';

-- ---------------------------------------------------------------------------------------------
-- vocabulary: point changes are recorded, never scored by default (no engagement rule names them)
-- ---------------------------------------------------------------------------------------------
INSERT INTO core.event_types (event_type, category, description) VALUES
    ('points_changed', 'scoring', 'The marketing tool changed the lead''s points (the signed change is attributes.delta); a score movement, not an interaction.');
COMMENT ON COLUMN core.event_types.category IS 'Family of the event: email, web, form, content, event, subscription, scoring.';
