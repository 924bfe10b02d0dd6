-- One row per expectation of a suite run; a rerun of the same validation replaces its row.
INSERT INTO dq.expectation_results (validation_run_id, suite, source_system, scope, check_id, expectation,
    column_name, severity, success, element_count, unexpected_count, unexpected_percent, observed_value,
    sample_keys, exception, kwargs)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (validation_run_id, suite, source_system, scope, check_id) DO UPDATE
   SET success = EXCLUDED.success, element_count = EXCLUDED.element_count,
       unexpected_count = EXCLUDED.unexpected_count, unexpected_percent = EXCLUDED.unexpected_percent,
       observed_value = EXCLUDED.observed_value, sample_keys = EXCLUDED.sample_keys,
       exception = EXCLUDED.exception, kwargs = EXCLUDED.kwargs
