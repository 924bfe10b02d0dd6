"""Calibrate fit points on outcomes: which attributes, alone and together, predict a sale — in integer
points sales and marketing can read and argue about.

From any table of leads with a known outcome (converted / won: 0 or 1), on a stratified training split:

1. **Clean** (`clean`): placeholders become missing, spelling variants merge, numbers written as text
   are parsed; identifiers and leaks (a column that alone predicts the outcome almost perfectly, or is
   filled in only after it) are left out and named in the report.
2. **Learn** (`terms`): an explainable boosting machine (one shape per column and the few pairwise
   interactions that matter most) is distilled, term by term, into readable rectangles: ranges of a
   number and groups of values that follow the outcome (supervised binning, a bin per leaf of at least
   `min_leaf_share` of the rows, missing values in a bin of their own), and compound rules for pairs.
3. **Weigh** (`points`): a regularised logistic regression over the rectangles, as the scoring engine
   evaluates the rules; a pairwise interaction (or a weak column) is kept only when it improves the
   cross-validated AUC on the training rows; integer points at the smallest scale that keeps the AUC.
4. **Report** (`report`): on the held-out split, the AUC of the integer points, of the unrounded model
   and of a gradient-boosting reference fitted on the same split, conversion and lift per decile, the
   calibration table, the interactions with what each adds, the columns left out and why, the seed.

The result is a `scoring:` section (fit rules with `range`, `in`, `not_in`, `missing` and `all:`, grades
from the score distribution) that `smarketing score-file`, `backtest` and the pipeline run as is.
"""

from __future__ import annotations

from smarketing.scoring.calibrate.clean import clean_text, merge_variants, parse_numbers, parse_outcome
from smarketing.scoring.calibrate.fitting import Calibration, CalibrationError, Options, calibrate
from smarketing.scoring.calibrate.report import write_outputs
from smarketing.scoring.calibrate.warehouse import warehouse_frame

__all__ = [
    "Calibration",
    "CalibrationError",
    "Options",
    "calibrate",
    "clean_text",
    "merge_variants",
    "parse_numbers",
    "parse_outcome",
    "warehouse_frame",
    "write_outputs",
]
