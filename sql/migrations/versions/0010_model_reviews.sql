-- The monthly review (dags/smarketing_review.py): each month the scoring is recalibrated on the
-- warehouse's outcomes, backtested against the model in effect, and put to the teams. The agreement
-- file is never rewritten: an approval produces a patch for a pull request, recorded here.
CREATE TABLE scoring.model_reviews (
    month            date        PRIMARY KEY CHECK (extract(day FROM month) = 1),
    dag_run_id       text        NOT NULL,
    proposed_at      timestamptz NOT NULL,
    active_version   text        NOT NULL,
    active_hash      text        NOT NULL,
    proposed_version text        NOT NULL,
    proposed_hash    text        NOT NULL,
    proposal         jsonb       NOT NULL,
    calibration      jsonb       NOT NULL,
    backtest         jsonb       NOT NULL,
    decision         text        NOT NULL DEFAULT 'pending'
                                 CHECK (decision IN ('pending', 'approved', 'rejected')),
    decided_by       text,
    decided_at       timestamptz,
    comment          text,
    timed_out        boolean     NOT NULL DEFAULT false,
    patch_path       text,
    CHECK ((decision = 'pending') = (decided_at IS NULL)),
    CHECK (patch_path IS NULL OR decision = 'approved')
);
COMMENT ON TABLE scoring.model_reviews IS 'Monthly scoring reviews: the model recalibrated on the warehouse''s outcomes, its backtest against the model in effect, and the teams'' decision in Airflow (approve / reject, with a comment). An approval writes a patch of config/smarketing.yaml for a pull request; the agreement itself is never rewritten.';
COMMENT ON COLUMN scoring.model_reviews.month IS 'First day of the closed month the review covers.';
COMMENT ON COLUMN scoring.model_reviews.dag_run_id IS 'Airflow run of smarketing_review that made the proposal.';
COMMENT ON COLUMN scoring.model_reviews.proposed_at IS 'When the proposal was computed.';
COMMENT ON COLUMN scoring.model_reviews.active_version IS 'scoring.version of the model in effect (the agreement) at proposal time.';
COMMENT ON COLUMN scoring.model_reviews.active_hash IS 'Config hash of the model in effect (scoring.models.config_hash).';
COMMENT ON COLUMN scoring.model_reviews.proposed_version IS 'scoring.version of the proposal.';
COMMENT ON COLUMN scoring.model_reviews.proposed_hash IS 'Config hash the proposal would have once merged into the agreement.';
COMMENT ON COLUMN scoring.model_reviews.proposal IS 'The proposed scoring: section (fit, engagement, grades) as JSON.';
COMMENT ON COLUMN scoring.model_reviews.calibration IS 'Headline figures of the calibration report: held-out AUCs (integer points, unrounded, reference), engagement AUCs and half-life.';
COMMENT ON COLUMN scoring.model_reviews.backtest IS 'Backtest over the last months, per month and model: MQLs, MQL to SQL and MQL to won counts and rates; AUC of each model.';
COMMENT ON COLUMN scoring.model_reviews.decision IS 'pending until answered; approved or rejected (a timeout counts as rejected).';
COMMENT ON COLUMN scoring.model_reviews.decided_by IS 'Airflow user who answered (empty when the request timed out).';
COMMENT ON COLUMN scoring.model_reviews.decided_at IS 'When the answer (or the timeout) was recorded.';
COMMENT ON COLUMN scoring.model_reviews.comment IS 'Comment given with the answer.';
COMMENT ON COLUMN scoring.model_reviews.timed_out IS 'True when nobody answered in time and the default (reject) applied.';
COMMENT ON COLUMN scoring.model_reviews.patch_path IS 'Patch of config/smarketing.yaml written on approval (a unified diff ready for a pull request).';

CREATE TABLE ops.review_mailings (
    month       date        NOT NULL,
    recipient_hash text     NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (month, recipient_hash)
);
COMMENT ON TABLE ops.review_mailings IS 'Monthly review reports mailed: one row per month and recipient, so a rerun never mails twice.';
COMMENT ON COLUMN ops.review_mailings.month IS 'First day of the month the report covers.';
COMMENT ON COLUMN ops.review_mailings.recipient_hash IS 'SHA-256 of the address the report went to (no address is kept).';
COMMENT ON COLUMN ops.review_mailings.sent_at IS 'When it was sent.';
