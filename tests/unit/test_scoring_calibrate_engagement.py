"""Engagement calibration's arithmetic is the engine's: faded counts at the cut-off, window, caps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smarketing.config.scoring import Engagement
from smarketing.scoring.calibrate.engagement import (
    US_PER_DAY,
    History,
    engagement_points,
    faded_counts,
)


def test_faded_counts_follow_the_agreements_decay_and_window() -> None:
    cutoff = 1_000 * US_PER_DAY
    leads = pd.DataFrame({"lead_id": [1, 2], "won": [1, 0], "cutoff_us": [cutoff, cutoff]})
    ages = [0, 30, 60, 200]
    events = pd.DataFrame(
        {
            "lead_id": [1, 1, 1, 1, 2],
            "event_type": ["form_submission"] * 4 + ["email_open"],
            "t_us": [cutoff - a * US_PER_DAY for a in ages] + [cutoff - 15 * US_PER_DAY],
        }
    )
    x = faded_counts(History(leads, events), ["form_submission", "email_open"], 30, 180)
    rule = Engagement(half_life_days=30.0, window_days=180)
    assert np.allclose(x[0], [sum(rule.decay(a) for a in ages), 0.0])
    assert np.allclose(x[0, 0], 1 + 0.5 + 0.25)  # the 200-day-old event is outside the window
    assert np.allclose(x[1], [0.0, 2**-0.5])
    # Unknown types are ignored, never fade: plain counts.
    assert np.allclose(faded_counts(History(leads, events), ["form_submission"], None, None), [[4], [0]])


def test_engagement_points_cap_totals_like_the_engine() -> None:
    x = np.array([[5.0, 4.0], [0.5, 1.0]])
    points = np.array([10.0, -20.0])
    # Caps are counts: 2 forms (20 points) and 1 unsubscribe (-20 points) at most.
    total = engagement_points(x, points, [2, 1])
    assert np.allclose(total, [20 - 20, 5 - 20])
