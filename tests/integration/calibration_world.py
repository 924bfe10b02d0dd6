"""A warehouse with known outcomes for calibration and the monthly review: leads with one closed deal
each, whose persona and webinars (before the deal) raise the odds of a win, and who unsubscribe after a
lost deal (a perfect 'predictor' that exists only after the outcome)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

START = datetime(2026, 3, 1, tzinfo=UTC)


def plant_outcomes(dsn: str, n: int = 1500, seed: int = 11) -> dict[str, np.ndarray]:
    """Leads with one closed deal each. Persona and webinars (before the deal) raise the odds of a win;
    lost leads unsubscribe after the deal closed (a perfect 'predictor' that only exists afterwards)."""
    rng = np.random.default_rng(seed)
    persona = rng.choice(["it_leader", "developer", "student"], size=n, p=[0.3, 0.5, 0.2])
    webinars = rng.poisson(np.where(rng.random(n) < 0.4, 2.0, 0.0))
    opened = [START + timedelta(days=int(d)) for d in rng.integers(60, 200, size=n)]
    logit = (
        -1.2 + np.select([persona == "it_leader", persona == "student"], [1.0, -1.0], 0.0) + 0.9 * webinars
    )
    won = rng.random(n) < 1 / (1 + np.exp(-np.minimum(logit, 3)))
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY core.leads (lead_id, source_system, source_id, persona_id, country, created_at) FROM STDIN"
        ) as cp:
            for i in range(n):
                country = rng.choice(["FR", "DE"])
                cp.write_row((i + 1, "test", f"L{i}", persona[i], country, opened[i] - timedelta(days=120)))
        # Sales accepted each lead the day its deal opened (an SQL).
        with cur.copy(
            "COPY core.lifecycle_history (lead_id, stage, entered_at, source_system) FROM STDIN"
        ) as cp:
            for i in range(n):
                cp.write_row((i + 1, "salesqualifiedlead", opened[i], "test"))
        with cur.copy(
            "COPY core.deals (deal_id, lead_id, created_at, closed_at, is_won, source_system) FROM STDIN"
        ) as cp:
            for i in range(n):
                cp.write_row(
                    (f"d{i}", i + 1, opened[i], opened[i] + timedelta(days=30), bool(won[i]), "test")
                )
        with cur.copy(
            "COPY core.marketing_events (event_id, lead_id, event_type, occurred_at, source_system) FROM STDIN"
        ) as cp:
            k = 0
            for i in range(n):
                # Webinars in the 60 days before the deal opened; e-mail opens as noise, before and after.
                for _ in range(webinars[i]):
                    k += 1
                    cp.write_row(
                        (
                            f"e{k}",
                            i + 1,
                            "webinar_attended",
                            opened[i] - timedelta(days=int(rng.integers(1, 60))),
                            "test",
                        )
                    )
                for _ in range(int(rng.integers(0, 4))):
                    k += 1
                    cp.write_row(
                        (
                            f"e{k}",
                            i + 1,
                            "email_open",
                            opened[i] + timedelta(days=int(rng.integers(-90, 40))),
                            "test",
                        )
                    )
                if not won[i] or rng.random() < 0.03:
                    k += 1
                    cp.write_row((f"e{k}", i + 1, "unsubscribe", opened[i] + timedelta(days=35), "test"))
        conn.commit()
    return {"won": won, "persona": persona}
