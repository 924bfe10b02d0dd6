-- Every engaged lead's score moves by fading every night, so a history row per changed score was a row
-- per engaged lead per night. A history row is now a snapshot of what the score is computed from
-- (fit points per profile and the uncapped engagement state per rule), written only when that changed
-- other than by fading: the score at a later time t, until the lead's next snapshot, is the snapshot's
-- state faded to t, capped and added up as the engine does (smarketing.scoring.history.history_as_of).
ALTER TABLE scoring.score_history
    ADD COLUMN config_hash text,
    ADD COLUMN fits integer[],
    ADD COLUMN state double precision[];
COMMENT ON TABLE scoring.score_history IS 'Snapshots of each lead''s scoring inputs (per model version, at most one a day), written when its score changed other than by fading: the score at a later time is the latest snapshot''s state faded to it (smarketing.scoring.history.history_as_of). fit .. profile_id are the score at the snapshot''s as_of.';
COMMENT ON COLUMN scoring.score_history.as_of IS 'Reference time of the run that wrote the row: state is computed to it.';
COMMENT ON COLUMN scoring.score_history.config_hash IS 'Model (scoring.models) whose rules the positions of fits and state follow; empty on rows written before snapshots (those hold the score of their day only).';
COMMENT ON COLUMN scoring.score_history.fits IS 'Fit points per profile, in the order of the model''s profiles.';
COMMENT ON COLUMN scoring.score_history.state IS 'Uncapped engagement value per rule at as_of, by rule position (scoring.rules.rule_no + 1): faded, capped and summed as scoring.rule_state is.';
