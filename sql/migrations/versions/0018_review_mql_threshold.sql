-- Calibrated points live on a scale of their own: the review's proposal carries the MQL threshold matched
-- on that scale, and an approval's patch writes it next to the points. Rows stored as a bare scoring:
-- section take the document's shape (no threshold: they were proposed without one).
UPDATE scoring.model_reviews
   SET proposal = jsonb_build_object('scoring', proposal)
 WHERE NOT proposal ? 'scoring';

COMMENT ON COLUMN scoring.model_reviews.proposal IS 'The proposal as JSON: {"scoring": the proposed scoring: section (version, fit, engagement, grades), "vocabulary": {"mql": {"min_score", "min_grade"}}}, the MQL threshold on the proposal''s own point scale. An approval''s patch writes both; rows proposed before the threshold was carried have no "vocabulary".';
COMMENT ON COLUMN scoring.model_reviews.calibration IS 'Headline figures of the calibration report: held-out AUCs (integer points, unrounded, reference), engagement AUCs and half-life, and "mql": the threshold in effect and the proposal''s, with the MQLs each makes at the moment they were matched.';
COMMENT ON COLUMN scoring.model_reviews.backtest IS 'Backtest over the last months, per month and model: MQLs, MQL to SQL and MQL to won counts and rates; AUC of each model; "mql_min_score": the threshold each model''s MQLs were counted at.';
