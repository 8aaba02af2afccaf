"""Lab 6 answers for the harness: WRONG ones must score less than full marks, RIGHT ones full marks.

Each entry maps a solution cell's grade_id to the source a trainee might write instead (the model answer's other
cells stay). The comment above each says the mistake and which test cell must catch it; LOSES names those cells,
so a variant that loses points for another reason shows up in review.
"""


def _model(estimator: str, fit_rows: str = "train_f[~is_val]", target: str = 'fit_rows["RUL"]', prelude: str = "",
           fit_x: str = "fit_rows[FEATURES]") -> str:
    """Return a model cell: fit and validation rows, model fitted, clipped validation predictions."""
    return f'''{prelude}
fit_rows, val_rows = {fit_rows}, train_f[is_val]
model = {estimator}
model.fit({fit_x}, {target})
val_pred = np.clip(model.predict(val_rows[FEATURES]), 0, RUL_CAP)
'''


def _margin(choose: str = "margin = int(MARGINS[int(np.argmin(val_scores))])",
            predict: str = "y_last_pred = np.clip(model.predict(X_last) - margin, 0, RUL_CAP)",
            rmse: str = "rmse = float(np.sqrt(np.mean((y_last_pred - y_last_true) ** 2)))", tail: str = "") -> str:
    """Return a margin cell with the given choice of margin, test prediction and RMSE."""
    return f'''
val_scores = [phm08_score(val_rows["RUL"], np.clip(val_pred - m, 0, RUL_CAP)) for m in MARGINS]
{choose}
{predict}
{rmse}
test_score = phm08_score(y_last_true, y_last_pred)
{tail}'''


_HGB = "HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, random_state=SEED)"

# --- realistic wrong answers ----------------------------------------------------------------------------------

# The cap is forgotten: early-life rows get targets of 300+ cycles that no sensor can explain.
# Caught by test_rul_labels (visible: the largest label) and test_model (hidden: refit on the capped labels).
_NO_CAP = '''
def add_rul(df: pd.DataFrame, cap: int | None = RUL_CAP) -> pd.DataFrame:
    """Return a copy of df with the RUL column: cycles left to the unit's last cycle."""
    out = df.copy()
    out["RUL"] = out.groupby("unit")["cycle"].transform("max") - out["cycle"]
    return out


train = add_rul(train_raw)
'''

# RUL counted from the row position inside the unit (rows happen to be in cycle order in the file).
# Caught by test_rul_labels (hidden: shuffled rows, cycle numbers with gaps).
_ROW_POSITION_RUL = '''
def add_rul(df: pd.DataFrame, cap: int | None = RUL_CAP) -> pd.DataFrame:
    """Return a copy of df with the RUL column: rows left in the unit, clipped at cap."""
    out = df.copy()
    rul = out.groupby("unit").cumcount(ascending=False)
    out["RUL"] = rul if cap is None else rul.clip(upper=cap)
    return out


train = add_rul(train_raw)
'''

# "Constant" tested as std == 0: s5 and s16 are constant but their std is 1e-15, not 0, so they stay.
# Caught by test_constant_sensors (hidden).
_STD_EQUALS_ZERO = '''
def constant_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the given columns whose standard deviation is zero."""
    return [c for c in columns if df[c].std() == 0]


dropped = constant_columns(train, SETTINGS + SENSORS)
sensors = [s for s in SENSORS if s not in dropped]
'''

# The constant sensors typed in from the visible test instead of computed. Caught by test_constant_sensors (hidden).
_DROPPED_TYPED_IN = '''
def constant_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the given columns that hold a single value over the whole frame, in order."""
    return [c for c in columns if df[c].nunique() <= 1]


dropped = ["s1", "s10", "s18", "s19"]
sensors = [s for s in SENSORS if s not in dropped]
'''

# Rolling over the whole table: each engine's first windows average in the previous engine's last cycles.
# Caught by test_window_features (visible).
_ROLLING_ACROSS_UNITS = '''
def add_window_features(df: pd.DataFrame, sensors: list[str], window: int = WINDOW) -> pd.DataFrame:
    """Return a copy of df with rolling mean and slope columns per sensor."""
    out = df.sort_values(["unit", "cycle"]).copy()
    for s in sensors:
        rolling = out[s].rolling(window, min_periods=1)
        out[f"{s}_mean"] = rolling.mean()
        out[f"{s}_slope"] = out[s].diff().rolling(window, min_periods=1).mean().fillna(0.0)
    return out.loc[df.index]
'''

# The slope from the window's two end points: the least-squares slope on a straight line (the visible demo), not on
# a noisy series. Caught by test_window_features (hidden: noisy, non-linear probe).
_END_POINT_SLOPE = '''
def add_window_features(df: pd.DataFrame, sensors: list[str], window: int = WINDOW) -> pd.DataFrame:
    """Return a copy of df with rolling mean and end-point slope columns per sensor, within each unit."""
    ordered = df.sort_values(["unit", "cycle"])
    out = df.copy()
    by_unit = ordered.groupby("unit")
    for s in sensors:
        out[f"{s}_mean"] = by_unit[s].transform(lambda x: x.rolling(window, min_periods=1).mean())
        first = by_unit[s].transform(lambda x: x.shift(window - 1).fillna(x.iloc[0]))
        first_t = by_unit["cycle"].transform(lambda x: x.shift(window - 1).fillna(x.iloc[0]))
        span = (ordered["cycle"] - first_t).where(lambda v: v > 0)
        out[f"{s}_slope"] = ((ordered[s] - first) / span).fillna(0.0)
    return out
'''

# A centred window: each row also averages the cycles after it, which a deployed model cannot know.
# Caught by test_window_features (visible: the mean of the last 3 cycles).
_CENTRED_WINDOW = '''
def add_window_features(df: pd.DataFrame, sensors: list[str], window: int = WINDOW) -> pd.DataFrame:
    """Return a copy of df with centred rolling mean and slope columns per sensor, within each unit."""
    ordered = df.sort_values(["unit", "cycle"])
    out = df.copy()
    by_unit = ordered.groupby("unit")
    for s in sensors:
        out[f"{s}_mean"] = by_unit[s].transform(lambda x: x.rolling(window, min_periods=1, center=True).mean())
        out[f"{s}_slope"] = by_unit[s].transform(
            lambda x: x.diff().rolling(window, min_periods=1, center=True).mean()).fillna(0.0)
    return out
'''

# The first recorded cycle of each test engine instead of the last. Caught by test_last_cycle (hidden).
_FIRST_CYCLE = '''
first_rows = test_f.sort_values(["unit", "cycle"]).groupby("unit").head(1).set_index("unit").sort_index()
X_last = first_rows[FEATURES]
y_last_true = rul_true.loc[X_last.index, "RUL"].to_numpy()
'''

# The mean of the per-engine scores instead of their sum. Caught by test_phm_score (visible).
_PHM_MEAN = '''
def phm08_score(y_true, y_pred) -> float:
    """Return the PHM08 score of the predictions, averaged over engines."""
    d = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return float(np.mean(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))
'''

# The two time constants swapped: late predictions are now the cheap ones. Caught by test_phm_score (visible).
_PHM_CONSTANTS_SWAPPED = '''
def phm08_score(y_true, y_pred) -> float:
    """Return the PHM08 score of the predictions."""
    d = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 10) - 1, np.exp(d / 13) - 1)))
'''

# Rows drawn at random for validation: neighbouring cycles of one engine land on both sides.
# Caught by test_engine_split (visible: an engine's rows on one side).
_ROW_SPLIT = '''
def engine_split(df: pd.DataFrame, val_frac: float = 0.2, seed: int = SEED) -> pd.Series:
    """Return True for a random val_frac of the rows."""
    rng = np.random.default_rng(seed)
    return pd.Series(rng.random(len(df)) < val_frac, index=df.index)


is_val = engine_split(train_f)
'''

# The number of validation engines truncated (int of 2.7 is 2). Caught by test_engine_split (hidden: 9 engines).
_TRUNCATED_COUNT = '''
def engine_split(df: pd.DataFrame, val_frac: float = 0.2, seed: int = SEED) -> pd.Series:
    """Return True on every row of a random val_frac of the engines."""
    units = np.sort(df["unit"].unique())
    val_units = np.random.default_rng(seed).choice(units, size=int(val_frac * len(units)), replace=False)
    return df["unit"].isin(val_units)


is_val = engine_split(train_f)
'''

# The seed ignored: always the last engines by number (reproducible, but not a random draw, and the same engines
# whatever the seed). Caught by test_engine_split (hidden: other seeds draw other engines). Found by an attacker
# review: it had full marks before that assertion.
_SEED_IGNORED = '''
def engine_split(df: pd.DataFrame, val_frac: float = 0.2, seed: int = SEED) -> pd.Series:
    """Return True on every row of the last val_frac of the engines by number."""
    units = np.sort(df["unit"].unique())
    n_val = int(round(val_frac * len(units)))
    return df["unit"].isin(units[len(units) - n_val:])


is_val = engine_split(train_f)
'''

# Fitted on every training engine, the validation engines included: the margin is then tuned on fitted rows.
# Caught by test_model (visible: fit_rows and val_rows split train_f; hidden: refit).
_FIT_ON_ALL_ENGINES = _model(_HGB, fit_rows="train_f")

# Fitted on the uncapped RUL (the label column is right, the model cell relabels "to use the full range").
# Caught by test_model (hidden: refit on the capped labels) and test_margin (hidden: PHM08 bar).
_UNCAPPED_TARGET = _model(_HGB, target='add_rul(train_raw, cap=None).loc[fit_rows.index, "RUL"]')

# A scaler fitted on every row, the test engines included, then a linear model on the scaled fit rows.
# Caught by test_model (hidden: refit on fit_rows[FEATURES] as they are).
_SCALER_ON_ALL_ROWS = '''
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

scaler = StandardScaler().fit(pd.concat([train_f[FEATURES], test_f[FEATURES]]))
fit_rows, val_rows = train_f[~is_val], train_f[is_val]
model = Ridge(alpha=1.0)
model.fit(scaler.transform(fit_rows[FEATURES]), fit_rows["RUL"])
val_pred = np.clip(model.predict(scaler.transform(val_rows[FEATURES])), 0, RUL_CAP)
'''
_SCALED_MARGIN = _margin(predict="y_last_pred = np.clip(model.predict(scaler.transform(X_last)) - margin, 0, RUL_CAP)")

# The test engines, labelled from RUL_FD001, added to the training rows ("more data"): the test score is no longer
# an estimate. Caught by test_model (hidden refit) and test_margin (hidden: too good to be true).
_TEST_ENGINES_IN_TRAINING = '''
test_labelled = test_f.assign(RUL=(test_f["unit"].map(rul_true["RUL"]) + test_f.groupby("unit")["cycle"].transform("max")
                                   - test_f["cycle"]).clip(upper=RUL_CAP))
fit_rows, val_rows = train_f[~is_val], train_f[is_val]
everything = pd.concat([fit_rows, test_labelled])
model = HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, random_state=SEED)
model.fit(everything[FEATURES], everything["RUL"])
val_pred = np.clip(model.predict(val_rows[FEATURES]), 0, RUL_CAP)
'''

# The margin chosen with the test engines' answers. Caught by test_margin (hidden: margin re-derived on validation).
_MARGIN_ON_TEST = _margin(choose='''test_raw_pred = model.predict(X_last)
margin = int(MARGINS[int(np.argmin([phm08_score(y_last_true, np.clip(test_raw_pred - m, 0, RUL_CAP)) for m in MARGINS]))])''')

# The margin is tuned, printed and never applied to the test predictions. Caught by test_margin (hidden).
_MARGIN_NOT_APPLIED = _margin(predict="y_last_pred = np.clip(model.predict(X_last), 0, RUL_CAP)")

# The margin added instead of subtracted (a "safety" margin that lengthens the predicted life).
# Caught by test_margin (hidden).
_MARGIN_ADDED = _margin(predict="y_last_pred = np.clip(model.predict(X_last) + margin, 0, RUL_CAP)")

# The largest margin with the lowest validation RMSE instead of the PHM08 score: the wrong metric.
# Caught by test_margin (hidden: margin re-derived with PHM08).
_MARGIN_BY_RMSE = _margin(choose='''val_rmse = [np.sqrt(np.mean((np.clip(val_pred - m, 0, RUL_CAP) - val_rows["RUL"]) ** 2)) for m in MARGINS]
margin = int(MARGINS[int(np.argmin(val_rmse))])''')

# "RMSE" computed as the mean absolute error. Caught by test_margin (visible: rmse must match its formula).
_MAE_AS_RMSE = _margin(rmse="rmse = float(np.mean(np.abs(y_last_pred - y_last_true)))")

# The full list of constant columns typed in (copied from an earlier run's printout) instead of computed: right on
# this file, but dropped no longer follows the data. Caught by test_constant_sensors (hidden: the notebook runs
# again with sensor s6 made constant). It had full marks before that rerun.
_DROPPED_ALL_TYPED_IN = '''
def constant_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the given columns that hold a single value over the whole frame, in order."""
    return [c for c in columns if df[c].nunique() <= 1]


dropped = ["op3", "s1", "s5", "s10", "s16", "s18", "s19"]
sensors = [s for s in SENSORS if s not in dropped]
'''

# Gaming the rerun: the typed-in list, with s6 (the sensor the rerun makes constant) also taken out of SENSORS, so a
# check built from the notebook's SENSORS agrees in both runs (attack review: it had full marks). Caught by
# test_constant_sensors (hidden: SENSORS restated, R9).
_DROPPED_TYPED_IN_S6_HIDDEN = _DROPPED_ALL_TYPED_IN.replace(
    'dropped = ["op3"', 'SENSORS = [s for s in SENSORS if s != "s6"]\ndropped = ["op3"')

# The constant columns found on the test engines ("the model will be used on them"): a feature choice made with the
# test data. The same list on this file, so only a rerun shows it. Caught by test_constant_sensors (hidden rerun).
_DROPPED_FROM_TEST = '''
def constant_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the given columns that hold a single value over the whole frame, in order."""
    return [c for c in columns if df[c].nunique() <= 1]


dropped = constant_columns(test_raw, SETTINGS + SENSORS)
sensors = [s for s in SENSORS if s not in dropped]
'''

# Rolling sums realigned by position (reset_index) instead of by index: right only when the rows are already in unit
# and cycle order. Caught by test_window_features (hidden: shuffled probe with its own index).
_ROLLING_BY_POSITION = '''
def add_window_features(df: pd.DataFrame, sensors: list[str], window: int = WINDOW) -> pd.DataFrame:
    """Return a copy of df with rolling mean and least-squares slope columns per sensor, within each unit."""
    ordered = df.sort_values(["unit", "cycle"])
    out = df.copy()
    t = ordered["cycle"].astype(float)
    for s in sensors:
        x = ordered[s].astype(float)
        parts = pd.DataFrame({"t": t, "x": x, "tx": t * x, "tt": t * t}).groupby(ordered["unit"])
        m = parts.rolling(window, min_periods=1).mean().reset_index(drop=True)
        var = m["tt"] - m["t"] ** 2
        out[f"{s}_mean"] = m["x"].to_numpy()
        out[f"{s}_slope"] = ((m["tx"] - m["t"] * m["x"]) / var.where(var > 1e-9)).fillna(0.0).to_numpy()
    return out
'''

# The test truth capped at RUL_CAP like the training labels: the test RMSE and PHM08 score now flatter the model.
# Caught by test_last_cycle (hidden: y_last_true is RUL_FD001 as it is).
_TEST_TRUTH_CAPPED = '''
last_rows = test_f.sort_values(["unit", "cycle"]).groupby("unit").tail(1).set_index("unit").sort_index()
X_last = last_rows[FEATURES]
y_last_true = rul_true.loc[X_last.index, "RUL"].clip(upper=RUL_CAP).to_numpy()
'''

# The PHM08 score on pandas Series: two Series are paired by index, so val_rows["RUL"] (index of train_f) and the
# predictions (index 0, 1, ...) barely meet and the validation scores are NaN. Caught by test_phm_score (hidden:
# Series whose indexes disagree) and test_margin (hidden: margin re-derived).
_PHM_BY_INDEX = '''
def phm08_score(y_true, y_pred) -> float:
    """Return the PHM08 score of the predictions."""
    d = pd.Series(y_pred, dtype=float) - pd.Series(y_true, dtype=float)
    return float(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1).sum())
'''

# The learning rate picked by the test engines' RMSE ("I kept the best of three settings"): the final model is a
# clean fit on the right rows, but the test score is no longer an estimate. Caught by test_model (hidden: the notebook
# runs again with RUL_FD001 changed and the validation predictions must stay put). Found by an attacker review.
_SETTINGS_CHOSEN_ON_TEST = '''
fit_rows, val_rows = train_f[~is_val], train_f[is_val]
best = None
for lr in [0.03, 0.1, 0.3]:
    candidate = HistGradientBoostingRegressor(max_iter=100, learning_rate=lr, random_state=SEED)
    candidate.fit(fit_rows[FEATURES], fit_rows["RUL"])
    err = np.sqrt(np.mean((np.clip(candidate.predict(X_last), 0, RUL_CAP) - y_last_true) ** 2))
    if best is None or err < best[0]:
        best = (err, candidate)
model = best[1]
val_pred = np.clip(model.predict(val_rows[FEATURES]), 0, RUL_CAP)
'''

# The margin typed in from the printed validation scores: right for this run, but no longer chosen by the code.
# Caught by test_margin (hidden: the notebook runs again with the training sensors shuffled, where the best margin
# is near 20). Found by an attacker review: it had full marks before that rerun.
_MARGIN_TYPED_IN = _margin(choose="margin = 3  # the lowest validation score printed above")

# The margin chosen on the training engines' own (fitted) rows: too optimistic, so too small a margin.
# Caught by test_margin (hidden: margin re-derived on the validation engines).
_MARGIN_ON_FIT_ROWS = _margin(choose='''fit_pred = np.clip(model.predict(fit_rows[FEATURES]), 0, RUL_CAP)
fit_scores = [phm08_score(fit_rows["RUL"], np.clip(fit_pred - m, 0, RUL_CAP)) for m in MARGINS]
margin = int(MARGINS[int(np.argmin(fit_scores))])''')

WRONG = {
    "RUL not capped": {"rul_labels": _NO_CAP},
    "RUL from row positions": {"rul_labels": _ROW_POSITION_RUL},
    "constant means std == 0": {"constant_sensors": _STD_EQUALS_ZERO},
    "constant sensors typed in from the visible test": {"constant_sensors": _DROPPED_TYPED_IN},
    "rolling window crosses engines": {"window_features": _ROLLING_ACROSS_UNITS},
    "slope from the window's end points": {"window_features": _END_POINT_SLOPE},
    "centred rolling window": {"window_features": _CENTRED_WINDOW},
    "first cycle of each test engine": {"last_cycle": _FIRST_CYCLE},
    "PHM08 averaged instead of summed": {"phm_score": _PHM_MEAN},
    "PHM08 time constants swapped": {"phm_score": _PHM_CONSTANTS_SWAPPED},
    "random row split": {"engine_split": _ROW_SPLIT},
    "validation engine count truncated": {"engine_split": _TRUNCATED_COUNT},
    "seed ignored: the last engines": {"engine_split": _SEED_IGNORED},
    "fitted on every training engine": {"model": _FIT_ON_ALL_ENGINES},
    "model fitted on the uncapped RUL": {"model": _UNCAPPED_TARGET},
    "scaler fitted on train and test rows": {"model": _SCALER_ON_ALL_ROWS, "margin": _SCALED_MARGIN},
    "test engines labelled and trained on": {"model": _TEST_ENGINES_IN_TRAINING},
    "margin chosen on the test engines": {"margin": _MARGIN_ON_TEST},
    "margin never applied": {"margin": _MARGIN_NOT_APPLIED},
    "margin added instead of subtracted": {"margin": _MARGIN_ADDED},
    "margin chosen by RMSE": {"margin": _MARGIN_BY_RMSE},
    "MAE reported as RMSE": {"margin": _MAE_AS_RMSE},
    "all constant sensors typed in": {"constant_sensors": _DROPPED_ALL_TYPED_IN},
    "typed-in constant sensors, s6 taken out of SENSORS": {"constant_sensors": _DROPPED_TYPED_IN_S6_HIDDEN},
    "constant sensors found on the test engines": {"constant_sensors": _DROPPED_FROM_TEST},
    "rolling sums realigned by position": {"window_features": _ROLLING_BY_POSITION},
    "test truth capped at RUL_CAP": {"last_cycle": _TEST_TRUTH_CAPPED},
    "PHM08 pairs Series by index": {"phm_score": _PHM_BY_INDEX},
    "learning rate chosen on the test engines": {"model": _SETTINGS_CHOSEN_ON_TEST},
    "margin typed in": {"margin": _MARGIN_TYPED_IN},
    "margin chosen on the fit rows": {"margin": _MARGIN_ON_FIT_ROWS},
}

LOSES = {
    "typed-in constant sensors, s6 taken out of SENSORS": {"test_constant_sensors"},
    "RUL not capped": {"test_rul_labels", "test_model"},
    "RUL from row positions": {"test_rul_labels"},
    "constant means std == 0": {"test_constant_sensors"},
    "constant sensors typed in from the visible test": {"test_constant_sensors"},
    "rolling window crosses engines": {"test_window_features"},
    "slope from the window's end points": {"test_window_features"},
    "centred rolling window": {"test_window_features"},
    "first cycle of each test engine": {"test_last_cycle"},
    "PHM08 averaged instead of summed": {"test_phm_score"},
    "PHM08 time constants swapped": {"test_phm_score"},
    "random row split": {"test_engine_split"},
    "validation engine count truncated": {"test_engine_split"},
    "seed ignored: the last engines": {"test_engine_split"},
    "fitted on every training engine": {"test_model"},
    "model fitted on the uncapped RUL": {"test_model", "test_margin"},
    "scaler fitted on train and test rows": {"test_model"},
    "test engines labelled and trained on": {"test_model"},
    "margin chosen on the test engines": {"test_margin"},
    "margin never applied": {"test_margin"},
    "margin added instead of subtracted": {"test_margin"},
    "margin chosen by RMSE": {"test_margin"},
    "MAE reported as RMSE": {"test_margin"},
    "all constant sensors typed in": {"test_constant_sensors"},
    "constant sensors found on the test engines": {"test_constant_sensors"},
    "rolling sums realigned by position": {"test_window_features"},
    "test truth capped at RUL_CAP": {"test_last_cycle"},
    "PHM08 pairs Series by index": {"test_phm_score", "test_margin"},
    "learning rate chosen on the test engines": {"test_model"},
    "margin typed in": {"test_margin"},
    "margin chosen on the fit rows": {"test_margin"},
}

# --- other correct answers ------------------------------------------------------------------------------------

# Other correct implementations: numpy's clip, a unit-by-unit rolling loop, GroupShuffleSplit for the engines,
# groupby().last() for the last cycle, a scoring loop.
_OTHER_IMPLEMENTATIONS = {
    "rul_labels": '''
def add_rul(df: pd.DataFrame, cap: int | None = RUL_CAP) -> pd.DataFrame:
    """Return a copy of df with the RUL column."""
    last = df.groupby("unit")["cycle"].max()
    rul = df["unit"].map(last) - df["cycle"]
    if cap is not None:
        rul = np.minimum(rul, cap)
    return df.assign(RUL=rul)


train = add_rul(train_raw)
''',
    "constant_sensors": '''
def constant_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the given columns whose largest and smallest values are equal."""
    return [c for c in columns if df[c].max() == df[c].min()]


dropped = constant_columns(train, SETTINGS + SENSORS)
sensors = [s for s in SENSORS if s not in dropped]
''',
    "window_features": '''
def _one_unit(group: pd.DataFrame, sensors: list[str], window: int) -> pd.DataFrame:
    t = group["cycle"].astype(float)
    out = {}
    for s in sensors:
        x = group[s].astype(float)
        roll = lambda v: v.rolling(window, min_periods=1)
        mt, mx = roll(t).mean(), roll(x).mean()
        cov = roll(t * x).mean() - mt * mx
        var = roll(t * t).mean() - mt * mt
        out[f"{s}_mean"] = mx
        out[f"{s}_slope"] = (cov / var.where(var > 1e-9)).fillna(0.0)
    return pd.DataFrame(out, index=group.index)


def add_window_features(df: pd.DataFrame, sensors: list[str], window: int = WINDOW) -> pd.DataFrame:
    """Return a copy of df with rolling mean and least-squares slope columns per sensor, within each unit."""
    ordered = df.sort_values(["unit", "cycle"])
    extra = pd.concat([_one_unit(g, sensors, window) for _, g in ordered.groupby("unit")])
    return df.join(extra)
''',
    "last_cycle": '''
last_rows = test_f.sort_values("cycle").groupby("unit").last()
X_last = last_rows.loc[sorted(last_rows.index), FEATURES]
y_last_true = np.array([rul_true.loc[u, "RUL"] for u in X_last.index])
''',
    "phm_score": '''
import math


def phm08_score(y_true, y_pred) -> float:
    """Return the PHM08 score, engine by engine."""
    total = 0.0
    for truth, guess in zip(list(y_true), list(y_pred)):
        d = float(guess) - float(truth)
        total += math.exp(-d / 13) - 1 if d < 0 else math.exp(d / 10) - 1
    return total
''',
    "engine_split": '''
from sklearn.model_selection import GroupShuffleSplit


def engine_split(df: pd.DataFrame, val_frac: float = 0.2, seed: int = SEED) -> pd.Series:
    """Return True on every row of a random val_frac of the engines."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=val_frac, random_state=seed)
    _, val_index = next(splitter.split(df, groups=df["unit"]))
    mask = np.zeros(len(df), dtype=bool)
    mask[val_index] = True
    return pd.Series(mask, index=df.index)


is_val = engine_split(train_f)
''',
    "margin": '''
val_scores = np.array([phm08_score(val_rows["RUL"], np.clip(val_pred - m, 0, RUL_CAP)) for m in MARGINS])
margin = int(MARGINS[val_scores == val_scores.min()][0])
raw = pd.Series(model.predict(X_last), index=X_last.index)
y_last_pred = (raw - margin).clip(0, RUL_CAP).to_numpy()
rmse = float(np.sqrt(((y_last_pred - y_last_true) ** 2).mean()))
test_score = phm08_score(y_last_true, y_last_pred)
''',
}

# The learning rate tuned on the validation engines' PHM08 score (never on the test engines), and the validation
# engines drawn with numpy's legacy seeding from the units in file order: other engines, other margin, same rules.
_TUNED_ON_VALIDATION = {
    "engine_split": '''
def engine_split(df: pd.DataFrame, val_frac: float = 0.2, seed: int = SEED) -> pd.Series:
    """Return True on every row of a random val_frac of the engines."""
    units = df["unit"].unique()
    np.random.seed(seed)
    val_units = np.random.choice(units, size=int(round(val_frac * len(units))), replace=False)
    return df["unit"].isin(val_units)


is_val = engine_split(train_f)
''',
    "model": '''
fit_rows, val_rows = train_f[~is_val], train_f[is_val]
best = None
for lr in [0.05, 0.1, 0.2]:
    candidate = HistGradientBoostingRegressor(max_iter=100, learning_rate=lr, random_state=SEED)
    candidate.fit(fit_rows[FEATURES], fit_rows["RUL"])
    score = phm08_score(val_rows["RUL"], np.clip(candidate.predict(val_rows[FEATURES]), 0, RUL_CAP))
    if best is None or score < best[0]:
        best = (score, candidate)
model = best[1]
val_pred = np.clip(model.predict(val_rows[FEATURES]), 0, RUL_CAP)
''',
}

RIGHT = {
    "other correct implementations": _OTHER_IMPLEMENTATIONS,
    "tuned on the validation engines": _TUNED_ON_VALIDATION,
    "extra trees regressor": {"model": _model(
        "ExtraTreesRegressor(n_estimators=60, min_samples_leaf=10, max_features=0.5, random_state=SEED)",
        prelude="from sklearn.ensemble import ExtraTreesRegressor")},
    "scaled k-nearest neighbours": {"model": _model(
        "make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=25))",
        prelude="from sklearn.neighbors import KNeighborsRegressor\nfrom sklearn.pipeline import make_pipeline\n"
                "from sklearn.preprocessing import StandardScaler")},
    "slower boosting": {"model": _model(
        "HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=SEED)")},
}
