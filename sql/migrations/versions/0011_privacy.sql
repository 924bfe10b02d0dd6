-- Erasure of one person (docs/privacy.md). No table here holds an address or a source id in clear:
-- both are kept as the hex sha256 of their normalised text, which is what the landing of every later
-- batch compares against (the suppression list), so an erased person never comes back from a re-pull.

CREATE TABLE ops.erasures (
    email_sha256   text        PRIMARY KEY CHECK (email_sha256 ~ '^[0-9a-f]{64}$'),
    requested_by   text        NOT NULL,
    erased_at      timestamptz NOT NULL DEFAULT now(),
    leads          integer     NOT NULL DEFAULT 0,
    source_records integer     NOT NULL DEFAULT 0,
    rows_changed   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    at_source      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE ops.erasures IS 'One row per erased e-mail address (the audit of every erasure, and the suppression list landing honours). Never holds the address itself.';
COMMENT ON COLUMN ops.erasures.email_sha256 IS 'Hex sha256 of the address, trimmed and lower-cased (docs/privacy.md says why unsalted).';
COMMENT ON COLUMN ops.erasures.requested_by IS 'Who asked: "cli" or the Airflow run id of the smarketing_privacy DAG run.';
COMMENT ON COLUMN ops.erasures.erased_at IS 'When the erasure committed.';
COMMENT ON COLUMN ops.erasures.leads IS 'Warehouse leads anonymised (the person, and leads merged with them).';
COMMENT ON COLUMN ops.erasures.source_records IS 'Source records (CRM / marketing tool contacts) of the person, merged aliases included.';
COMMENT ON COLUMN ops.erasures.rows_changed IS 'Rows deleted or anonymised per table ("schema.table": n).';
COMMENT ON COLUMN ops.erasures.at_source IS 'Deletions asked of the sources when requested (system: {"deleted": n, "missing": n}); empty when not asked.';

-- Other addresses of the person (merged aliases) are suppressed too: they sit here, next to the
-- request they came with, as do the person's source records.
CREATE TABLE ops.erased_identities (
    kind         text NOT NULL CHECK (kind IN ('email', 'record')),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    email_sha256 text NOT NULL REFERENCES ops.erasures (email_sha256),
    PRIMARY KEY (kind, sha256)
);
COMMENT ON TABLE ops.erased_identities IS 'Suppression list: hashes of every address and source record of an erased person; landing drops records that match.';
COMMENT ON COLUMN ops.erased_identities.kind IS 'email: a normalised address; record: a source record as "<source_system>:<source_id>".';
COMMENT ON COLUMN ops.erased_identities.sha256 IS 'Hex sha256 of the normalised address or of "<source_system>:<source_id>".';
COMMENT ON COLUMN ops.erased_identities.email_sha256 IS 'The erasure this identity was found by (ops.erasures).';

-- The hash every part of the system uses: sha256 of the text as UTF-8, in hex.
CREATE FUNCTION ops.sha256_hex(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(value, 'UTF8')), 'hex')
$$;
COMMENT ON FUNCTION ops.sha256_hex(text) IS 'Hex sha256 of a text as UTF-8 (erasure hashes: addresses trimmed and lower-cased, records as "<system>:<id>").';
