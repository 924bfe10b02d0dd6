-- Raw records of one source system, staged as typed, flat columns for their checks (see
-- include/smarketing/quality/rawstage.py, which writes the column lists). Three levels, each fenced with
-- OFFSET 0 so nothing is computed twice: e extracts every JSON field once, t types the values and
-- resolves references (hash joins), the outer level tells unparseable timestamps apart.
CREATE UNLOGGED TABLE {name} AS
SELECT {outer}
FROM (
    SELECT {typed}
    FROM (SELECT {extracted} FROM raw.{obj} r WHERE {where} OFFSET 0) e
    {joins}
    OFFSET 0
) t
