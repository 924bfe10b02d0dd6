"""The monthly review (`dags/smarketing_review.py`): the closed month's KPIs and report, and a recalibrated
scoring proposal, backtested against the model in effect, put to the teams for approval.

- `month`: the closed month a run covers and the first business day it waits for (the agreement's
  calendar and time zone).
- `steps`: the KPI build for the closed month, the report, mailing it once per month and address.
- `proposal`: recalibrate on the warehouse's outcomes, backtest against the model in effect, store the
  proposal in `scoring.model_reviews`; the body of the approval request.
- `decision`: record the answer (who, when, comment, model hashes); on approval write the proposal (points
  and MQL threshold) as a patch of `config/smarketing.yaml` (`patch`) for a pull request. The agreement itself is never rewritten.
"""
