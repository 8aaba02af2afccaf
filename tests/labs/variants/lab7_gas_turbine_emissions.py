"""Lab 7 answers a trainee might write: WRONG ones must lose points, RIGHT ones must keep full marks.

Each entry maps a solution cell's grade_id to the source the trainee would have in that cell; the other cells keep
the model answer. The comment above each says what is wrong (or why it is still right) and which test should catch it.
"""

_SPLIT = '''
FEATURES = ["AT", "AP", "AH", "AFDP", "GTEP", "TIT", "TAT", "TEY", "CDP"]


def split_years(df, years):
    return df[df["year"].isin(years)]


train = split_years(emissions, TRAIN_YEARS)
valid = split_years(emissions, VALID_YEARS)
test = split_years(emissions, TEST_YEARS)
X_train, y_train = train[FEATURES], train[TARGET]
X_valid, y_valid = valid[FEATURES], valid[TARGET]
X_test, y_test = test[FEATURES], test[TARGET]
'''

# Leakage through another analyser: CO is measured by the same stack system that is down when the PEMS is needed.
# test_split (the input columns) must catch it.
_CO_AS_INPUT = _SPLIT.replace(
    'FEATURES = ["AT", "AP", "AH", "AFDP", "GTEP", "TIT", "TAT", "TEY", "CDP"]',
    'FEATURES = [c for c in emissions.columns if c not in ("NOX", "year")]  # every measurement helps',
)

# Shuffled "to avoid bias": the rows lose their time order, which the weekly recalibration needs.
# test_split (time order) must catch it.
_SHUFFLED_SPLIT = _SPLIT.replace(
    'return df[df["year"].isin(years)]',
    'return df[df["year"].isin(years)].sample(frac=1.0, random_state=SEED)',
)

# Row counts copied from the visible test of task 1: right on this file, wrong on any other table.
# test_split (split_years on another frame) must catch it.
_HARD_CODED_ROWS = _SPLIT.replace('''def split_years(df, years):
    return df[df["year"].isin(years)]''', '''ROWS_PER_YEAR = {2011: 7411, 2012: 7628, 2013: 7152, 2014: 7158, 2015: 7384}  # from the test above


def split_years(df, years):
    starts = np.cumsum([0] + [ROWS_PER_YEAR[y] for y in YEARS])
    return pd.concat([df.iloc[starts[YEARS.index(y)]:starts[YEARS.index(y) + 1]] for y in years])''')

# Signed mean error: agrees with MAE whenever every error has the same sign, as in the visible example.
# test_metric (errors of both signs) must catch it.
_MEAN_ERROR_METRIC = '''
def mae(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)))
'''

# Root mean squared error under the name MAE: large errors weigh more than the report's metric allows.
# test_metric must catch it.
_RMSE_METRIC = '''
def mae(y_true, y_pred) -> float:
    diff = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean(diff ** 2)))
'''

_MODEL = '''
model = HistGradientBoostingRegressor(random_state=SEED)
model.fit(X_train, y_train)
valid_pred = model.predict(X_valid)
valid_mae = mae(y_valid, valid_pred)

early = pd.concat([train, valid])
random_fit, random_eval = train_test_split(early, test_size=0.2, random_state=SEED)
random_model = clone(model).fit(random_fit[FEATURES], random_fit[TARGET])
random_mae = mae(random_eval[TARGET], random_model.predict(random_eval[FEATURES]))
'''

# Leakage: "more data is better", the model sees every year, 2013-2015 included.
# test_model (refit on the training years, too-good 2013 MAE) must catch it.
_FIT_ON_ALL_YEARS = _MODEL.replace("model.fit(X_train, y_train)", "model.fit(emissions[FEATURES], emissions[TARGET])")

# The random split drawn from all five years instead of 2011-2013: it measures memory of the test years.
# test_model (random_mae re-derived) must catch it.
_RANDOM_SPLIT_ALL_YEARS = _MODEL.replace("early = pd.concat([train, valid])", "early = emissions")

# The random-split model scored on the rows it was fitted on.
# test_model (random_mae re-derived) must catch it.
_RANDOM_MAE_ON_FIT_ROWS = _MODEL.replace(
    "random_mae = mae(random_eval[TARGET], random_model.predict(random_eval[FEATURES]))",
    "random_mae = mae(random_fit[TARGET], random_model.predict(random_fit[FEATURES]))",
)

_DRIFT = '''
baseline_test_mae = mae(y_test, np.full(len(y_test), y_train.mean()))
test_pred = model.predict(X_test)
test_mae = mae(y_test, test_pred)
errors = pd.Series(model.predict(emissions[FEATURES]), index=emissions.index) - emissions[TARGET]
yearly_bias = errors.groupby(emissions["year"]).mean()
'''

# Leakage into the baseline: the "mean NOx" taken over the years being predicted.
# test_drift (baseline from the training years only) must catch it.
_BASELINE_FROM_TEST = _DRIFT.replace("np.full(len(y_test), y_train.mean())", "np.full(len(y_test), y_test.mean())")

# Wrong aggregation: the yearly bias taken as the yearly MAE, so the sign (over- or under-reporting) is lost.
# test_drift (signed bias) must catch it.
_ABSOLUTE_BIAS = _DRIFT.replace("yearly_bias = errors.groupby(", "yearly_bias = errors.abs().groupby(")

_RECALIBRATE_HEAD = '''
def recalibrate(y_true, y_pred, block: int) -> np.ndarray:
    truth = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    out = pred.copy()
'''

# Leakage in time: each block corrected with its own truth, which is not known until it has been checked.
# test_recalibrate and test_check_period must catch it.
_CURRENT_BLOCK = _RECALIBRATE_HEAD + '''    for start in range(0, len(pred), block):
        here = slice(start, start + block)
        out[here] += np.mean(truth[here] - pred[here])
    return out
'''

# The previous block's median error: the same as its mean whenever a block's errors are all equal (the visible demo).
# test_recalibrate must catch it.
_MEDIAN_CORRECTION = _RECALIBRATE_HEAD + '''    for start in range(block, len(pred), block):
        previous = slice(start - block, start)
        out[start:start + block] += np.median(truth[previous] - pred[previous])
    return out
'''

# The loop stops one block early: a shorter last block is never corrected (invisible when blocks divide the rows).
# test_recalibrate and test_check_period must catch it.
_LAST_BLOCK_UNCORRECTED = _RECALIBRATE_HEAD + '''    for start in range(block, len(pred) - block + 1, block):
        previous = slice(start - block, start)
        out[start:start + block] += np.mean(truth[previous] - pred[previous])
    return out
'''

_CHECK = '''
valid_cal_mae = {days: mae(y_valid, recalibrate(y_valid, valid_pred, days * 24)) for days in CHECK_DAYS}
best = min(valid_cal_mae.values())
check_days = max(days for days in CHECK_DAYS if valid_cal_mae[days] <= 1.1 * best)
test_pred_cal = recalibrate(y_test, test_pred, check_days * 24)
test_mae_cal = mae(y_test, test_pred_cal)
'''

# A domain constant off by a factor: the period in days used as a number of rows, which are hours.
# test_check_period must catch it.
_DAYS_AS_ROWS = _CHECK.replace("days * 24)", "days)").replace("check_days * 24)", "check_days)")

# A tuned quantity never applied: check_days is chosen on 2013, but the test years are recalibrated daily anyway.
# test_check_period must catch it.
_PERIOD_NOT_APPLIED = _CHECK.replace("recalibrate(y_test, test_pred, check_days * 24)",
                                     "recalibrate(y_test, test_pred, CHECK_DAYS[0] * 24)  # daily is the most accurate")

# A smooth model (no memorising, so no too-small 2013 MAE) fitted on 2011-2013 by rebinding X_train and y_train:
# the refit and the baseline used the rebound names. test_model must catch it.
_RIDGE_ON_REBOUND_YEARS = """
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
""" + _MODEL.replace("model = HistGradientBoostingRegressor(random_state=SEED)\nmodel.fit(X_train, y_train)", """\
model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
# more history is better
X_train = pd.concat([X_train, X_valid])
y_train = pd.concat([y_train, y_valid])
model.fit(X_train, y_train)""")

# Gaming: the check period tuned on the test years, with the validation names pointed at them first, so that a
# recomputation "on X_valid, y_valid" agrees (attack review: it had full marks; tuned on 2014-2015 the rule picks 1 day,
# on 2013 7 days). test_check_period must catch it (hidden: the splits read again from the files).
_TUNED_ON_TEST_REBOUND = """
X_valid, y_valid = X_test, y_test
valid_pred = model.predict(X_valid)
""" + _CHECK

WRONG = {
    "smooth model fitted on rebound 2011-2013 rows": {"model": _RIDGE_ON_REBOUND_YEARS},
    "CO used as an input": {"split": _CO_AS_INPUT},
    "rows shuffled in the split": {"split": _SHUFFLED_SPLIT},
    "split by row counts from the visible test": {"split": _HARD_CODED_ROWS},
    "signed mean error instead of MAE": {"metric": _MEAN_ERROR_METRIC},
    "RMSE instead of MAE": {"metric": _RMSE_METRIC},
    "model fitted on all years": {"model": _FIT_ON_ALL_YEARS},
    "random split drawn from all five years": {"model": _RANDOM_SPLIT_ALL_YEARS},
    "random-split MAE on the fitted rows": {"model": _RANDOM_MAE_ON_FIT_ROWS},
    "baseline from the test years' mean": {"drift": _BASELINE_FROM_TEST},
    "yearly bias without its sign": {"drift": _ABSOLUTE_BIAS},
    "each block corrected with its own truth": {"recalibrate": _CURRENT_BLOCK},
    "median of the previous block": {"recalibrate": _MEDIAN_CORRECTION},
    "last short block left uncorrected": {"recalibrate": _LAST_BLOCK_UNCORRECTED},
    "check period in rows instead of hours": {"check_period": _DAYS_AS_ROWS},
    "chosen check period never applied": {"check_period": _PERIOD_NOT_APPLIED},
    "check period tuned on the test years, validation names rebound": {"check_period": _TUNED_ON_TEST_REBOUND},
}

# Another model family: a scaled ridge regression. It drifts differently (it under-predicts 2014) but the
# procedure is the same, and the tests' bars come from the procedure and wide margins, not the boosted trees.
_RIDGE = '''
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
model.fit(X_train, y_train)
valid_pred = model.predict(X_valid)
valid_mae = mae(y_valid, valid_pred)

early = pd.concat([train, valid])
random_fit, random_eval = train_test_split(early, test_size=0.2, random_state=SEED)
random_model = clone(model).fit(random_fit[FEATURES], random_fit[TARGET])
random_mae = mae(random_eval[TARGET], random_model.predict(random_eval[FEATURES]))
'''

# Another model family: nearest neighbours on standardised inputs.
_KNN = _RIDGE.replace("from sklearn.linear_model import Ridge", "from sklearn.neighbors import KNeighborsRegressor").replace(
    "Ridge(alpha=1.0)", "KNeighborsRegressor(n_neighbors=10)")

# The same procedure written the pandas way: files found by pattern, sklearn's metric, block numbers and shift.
_PANDAS_LOAD = '''
def load_emissions(folder):
    parts = []
    for path in sorted(folder.glob("gt_*.csv")):
        part = pd.read_csv(path).rename(columns=str.strip)
        parts.append(part.assign(year=int(path.stem.split("_")[1])))
    return pd.concat(parts).reset_index(drop=True)


emissions = load_emissions(DATA_DIR / "gas_turbine_co_nox")
'''

_SKLEARN_METRIC = '''
from sklearn.metrics import mean_absolute_error


def mae(y_true, y_pred) -> float:
    return float(mean_absolute_error(np.asarray(y_true), np.asarray(y_pred)))
'''

_PANDAS_RECALIBRATE = '''
def recalibrate(y_true, y_pred, block: int) -> np.ndarray:
    frame = pd.DataFrame({"truth": np.asarray(y_true, dtype=float), "pred": np.asarray(y_pred, dtype=float)})
    frame["block"] = np.arange(len(frame)) // block
    block_error = (frame["truth"] - frame["pred"]).groupby(frame["block"]).mean()
    shift = block_error.shift(1).fillna(0.0)
    return (frame["pred"] + frame["block"].map(shift)).to_numpy()
'''

_PANDAS_CHECK = '''
valid_cal_mae = {}
for days in CHECK_DAYS:
    valid_cal_mae[days] = mae(y_valid, recalibrate(y_valid, valid_pred, block=24 * days))
table = pd.Series(valid_cal_mae)
check_days = int(table[table <= 1.1 * table.min()].index.max())
test_pred_cal = recalibrate(y_test, model.predict(X_test), block=24 * check_days)
test_mae_cal = mae(y_test, test_pred_cal)
'''

_PANDAS_DRIFT = '''
baseline_test_mae = mae(y_test, [y_train.mean()] * len(y_test))
test_pred = model.predict(X_test)
test_mae = mae(y_test, test_pred)
yearly_bias = (
    emissions.assign(error=model.predict(emissions[FEATURES]) - emissions[TARGET])
    .groupby("year")["error"].mean()
)
'''

RIGHT = {
    "scaled ridge regression": {"model": _RIDGE},
    "nearest neighbours": {"model": _KNN},
    "pandas style throughout": {"load_data": _PANDAS_LOAD, "metric": _SKLEARN_METRIC, "drift": _PANDAS_DRIFT,
                                "recalibrate": _PANDAS_RECALIBRATE, "check_period": _PANDAS_CHECK},
}
