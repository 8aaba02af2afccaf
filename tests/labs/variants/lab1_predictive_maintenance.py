"""Answers to lab 1 that the tests must tell apart: WRONG ones lose points, RIGHT ones keep full marks.

Each WRONG answer is a mistake a trainee in this course might make; LOSES names the test cells that must catch
it (the cells that test that mistake), so a variant that loses points for another reason shows up in review.
"""

_MODEL_HEAD = '''
model = RandomForestClassifier(n_estimators=150, class_weight="balanced_subsample", min_samples_leaf=2,
                               random_state=SEED, n_jobs=1)
'''

_COST_FN_HEAD = '''
def expected_cost(y_true, proba, threshold: float, cost_miss: float, cost_stop: float) -> float:
    """Return the total cost of stopping wherever proba >= threshold."""
'''

_BEST_THRESHOLD = '''
def best_threshold(y_true, proba, cost_miss: float, cost_stop: float, grid) -> float:
    """Return the grid threshold with the lowest total cost (the smallest on ties)."""
    costs = [expected_cost(y_true, proba, t, cost_miss, cost_stop) for t in grid]
    return float(grid[int(np.argmin(costs))])

'''

# The model answer's features cell, for variants that run code around it.
_ANSWER_FEATURES = '''

def make_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model inputs for each row of an AI4I frame, without leaking columns."""
    out = pd.DataFrame(index=frame.index)
    for t in ["L", "M", "H"]:
        out[f"type_{t}"] = (frame["Type"] == t).astype(int)
    out["air_temp_K"] = frame["Air temperature [K]"]
    out["process_temp_K"] = frame["Process temperature [K]"]
    out["speed_rpm"] = frame["Rotational speed [rpm]"]
    out["torque_Nm"] = frame["Torque [Nm]"]
    out["tool_wear_min"] = frame["Tool wear [min]"]
    out["temp_diff_K"] = out["process_temp_K"] - out["air_temp_K"]
    out["power_W"] = out["torque_Nm"] * out["speed_rpm"] * 2 * np.pi / 60
    return out[FEATURES]


X = make_features(df)
y = df["Machine failure"]
'''

WRONG = {
    # Aggregation: each type's share of all failures (sums to 1), not the failure rate within each type.
    "rate per type as share of all failures": {"explore": '''
failure_rate = float(df["Machine failure"].mean())
failure_rate_by_type = df.loc[df["Machine failure"] == 1, "Type"].value_counts(normalize=True)
'''},
    # Leakage: the failure-mode flags are recorded after the failure.
    "failure-mode flags kept as features": {"features": _ANSWER_FEATURES.replace(
        "without leaking columns.", 'keeping the failure-mode flags because they "predict so well".').replace(
        "    return out[FEATURES]\n",
        '    for flag in ["TWF", "HDF", "PWF", "OSF", "RNF"]:\n        out[flag] = frame[flag]\n    return out\n')},
    # Domain constant: rpm used as if it were rad/s (power off by a factor 60 / 2π).
    "power from rpm without converting to rad/s": {"features": _ANSWER_FEATURES.replace(
        'out["speed_rpm"] * 2 * np.pi / 60', 'out["speed_rpm"]')},
    # Unstratified split: with SEED the parts still look "about 3.4 %", which the old tests accepted.
    "unstratified split": {"split": '''
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, random_state=SEED)
'''},
    "only the first split stratified": {"split": '''
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=SEED)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, random_state=SEED)
'''},
    # Sizes hard-coded from the visible test, rows taken in file order (neither shuffled nor stratified).
    "split by row number with the visible sizes": {"split": '''
X_train, X_val, X_test = X.iloc[:6000], X.iloc[6000:8000], X.iloc[8000:]
y_train, y_val, y_test = y.iloc[:6000], y.iloc[6000:8000], y.iloc[8000:]
'''},
    # Leakage through preprocessing: a scaler fitted on every row before the split.
    "scaler fitted on all rows before the split": {"split": '''
from sklearn.preprocessing import StandardScaler

X_scaled = pd.DataFrame(StandardScaler().fit_transform(X), index=X.index, columns=X.columns)
X_rest, X_test, y_rest, y_test = train_test_split(X_scaled, y, test_size=0.2, stratify=y, random_state=SEED)
X_train, X_val, y_train, y_val = train_test_split(
    X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SEED)
'''},
    # Leakage: the validation rows that choose the threshold were also used to fit the model.
    "model fitted on train and validation rows": {"model": _MODEL_HEAD + '''
model.fit(pd.concat([X_train, X_val]), pd.concat([y_train, y_val]))
proba_val = model.predict_proba(X_val)[:, 1]
proba_test = model.predict_proba(X_test)[:, 1]
'''},
    "model fitted on all rows": {"model": _MODEL_HEAD + '''
model.fit(X, y)
proba_val = model.predict_proba(X_val)[:, 1]
proba_test = model.predict_proba(X_test)[:, 1]
'''},
    # Label order: column 0 of predict_proba is the probability of "no failure".
    "probability of the wrong class": {"model": _MODEL_HEAD + '''
model.fit(X_train, y_train)
proba_val = model.predict_proba(X_val)[:, 0]
proba_test = model.predict_proba(X_test)[:, 0]
'''},
    # Hard 0/1 predictions used as probabilities: the threshold search then has nothing to tune.
    "hard predictions instead of probabilities": {"model": _MODEL_HEAD + '''
model.fit(X_train, y_train)
proba_val = model.predict(X_val).astype(float)
proba_test = model.predict(X_test).astype(float)
'''},
    # A formula that agrees with >= everywhere except on the boundary.
    "stop only when proba > threshold": {"cost_fn": _COST_FN_HEAD + '''
    y_true = np.asarray(y_true)
    stop = np.asarray(proba) > threshold
    missed = int(((y_true == 1) & ~stop).sum())
    needless = int(((y_true == 0) & stop).sum())
    return float(missed * cost_miss + needless * cost_stop)
'''},
    "every stop charged, even one that catches a failure": {"cost_fn": _COST_FN_HEAD + '''
    y_true = np.asarray(y_true)
    stop = np.asarray(proba) >= threshold
    missed = int(((y_true == 1) & ~stop).sum())
    return float(missed * cost_miss + stop.sum() * cost_stop)
'''},
    "cost averaged per machine instead of summed": {"cost_fn": _COST_FN_HEAD + '''
    y_true = np.asarray(y_true)
    stop = np.asarray(proba) >= threshold
    per_row = np.where((y_true == 1) & ~stop, cost_miss, 0) + np.where((y_true == 0) & stop, cost_stop, 0)
    return float(per_row.mean())
'''},
    "threshold chosen on the test set": {"threshold": _BEST_THRESHOLD + '''
threshold = best_threshold(y_test, proba_test, COST_MISS, COST_STOP, GRID)
'''},
    "threshold that maximises F1 on validation": {"threshold": '''
from sklearn.metrics import f1_score


def best_threshold(y_true, proba, cost_miss: float, cost_stop: float, grid) -> float:
    """Return the cheapest grid threshold."""
    costs = [expected_cost(y_true, proba, t, cost_miss, cost_stop) for t in grid]
    return float(grid[int(np.argmin(costs))])


scores = [f1_score(y_val, proba_val >= t) for t in GRID]
threshold = float(GRID[int(np.argmax(scores))])
'''},
    # Hard-coded to pass the two visible examples: the smallest grid value when a miss costs more.
    "best_threshold hard-coded to the visible examples": {"threshold": '''
def best_threshold(y_true, proba, cost_miss: float, cost_stop: float, grid) -> float:
    """Return the lowest threshold when misses are dearer, else the highest."""
    return float(min(grid)) if cost_miss > cost_stop else float(max(grid))


threshold = best_threshold(y_val, proba_val, COST_MISS, COST_STOP, GRID)
'''},
    # A tuned quantity never applied: the decisions and their cost use the default 0.5.
    "threshold tuned but decisions taken at 0.5": {"evaluate": '''
stop_test = model.predict(X_test)
cm_test = confusion_matrix(y_test, stop_test, labels=[0, 1])
test_cost = expected_cost(y_test, proba_test, 0.5, COST_MISS, COST_STOP)
no_model_cost = float(y_test.sum() * COST_MISS)
'''},
    # The default 0.5 put back before the test decisions ("the tuned value looked odd"): every decision follows
    # `threshold`, so only a check that threshold is still the validation choice catches it (attack review).
    "threshold set back to 0.5 before the test decisions": {"evaluate": '''
threshold = 0.5
stop_test = (proba_test >= threshold).astype(int)
cm_test = confusion_matrix(y_test, stop_test, labels=[0, 1])
test_cost = expected_cost(y_test, proba_test, threshold, COST_MISS, COST_STOP)
no_model_cost = float(y_test.sum() * COST_MISS)
'''},
    # Gaming: the threshold tuned on the test set, then the validation names bound to the test rows, so that a
    # check recomputing the choice "on y_val" agrees (attack review: it had full marks).
    "threshold tuned on the test set, validation names rebound to it": {"threshold": _BEST_THRESHOLD + '''
threshold = best_threshold(y_test, proba_test, COST_MISS, COST_STOP, GRID)
X_val, y_val, proba_val = X_test, y_test, proba_test
'''},
    # Gaming: df bound to a made-up frame whose rates per type equal the wrong answer's, and put back afterwards,
    # so that a hidden test recomputing the rates from df agrees (attack review: it had full marks).
    "share of failures per type, with df made up to match": {"explore": '''
failure_rate = float(df["Machine failure"].mean())
failure_rate_by_type = df.loc[df["Machine failure"] == 1, "Type"].value_counts(normalize=True)
_real_df, _n = df, int(df["Machine failure"].sum())
_types, _labels = [], []
for _t in ["L", "M", "H"]:
    _k = int(round(failure_rate_by_type[_t] * _n))
    _types += [_t] * _n
    _labels += [1] * _k + [0] * (_n - _k)
df = pd.DataFrame({"Type": _types + ["Z"] * (len(_real_df) - 3 * _n),
                   "Machine failure": _labels + [0] * (len(_real_df) - 3 * _n)})
''', "features": "\ndf = _real_df\n" + _ANSWER_FEATURES},
    # Label order: confusion_matrix(y_pred, y_true) puts the decisions in the rows.
    "confusion matrix with actual and decision swapped": {"evaluate": '''
stop_test = (proba_test >= threshold).astype(int)
cm_test = confusion_matrix(stop_test, y_test, labels=[0, 1])
test_cost = float(cm_test[1, 0] * COST_MISS + cm_test[0, 1] * COST_STOP)
no_model_cost = float(y_test.sum() * COST_MISS)
'''},
}

# The test cells each wrong answer must lose points in (it may lose more where a later cell builds on it).
LOSES = {
    "rate per type as share of all failures": {"test_explore"},
    "failure-mode flags kept as features": {"test_features_columns"},
    "power from rpm without converting to rad/s": {"test_features_columns", "test_features_values"},
    "unstratified split": {"test_split"},
    "only the first split stratified": {"test_split"},
    "split by row number with the visible sizes": {"test_split"},
    "scaler fitted on all rows before the split": {"test_split"},
    "model fitted on train and validation rows": {"test_model", "test_model_fit"},
    "model fitted on all rows": {"test_model", "test_model_fit"},
    "probability of the wrong class": {"test_model", "test_model_fit"},
    "hard predictions instead of probabilities": {"test_model", "test_model_fit"},
    "stop only when proba > threshold": {"test_cost_fn"},
    "every stop charged, even one that catches a failure": {"test_cost_fn"},
    "cost averaged per machine instead of summed": {"test_cost_fn"},
    "threshold chosen on the test set": {"test_threshold"},
    "threshold that maximises F1 on validation": {"test_threshold"},
    "best_threshold hard-coded to the visible examples": {"test_threshold"},
    "threshold tuned but decisions taken at 0.5": {"test_evaluate"},
    "confusion matrix with actual and decision swapped": {"test_evaluate"},
    "threshold set back to 0.5 before the test decisions": {"test_evaluate"},
    "threshold tuned on the test set, validation names rebound to it": {"test_threshold"},
    "share of failures per type, with df made up to match": {"test_explore"},
}

RIGHT = {
    # Another model family.
    "histogram gradient boosting": {"model": '''
from sklearn.ensemble import HistGradientBoostingClassifier

model = HistGradientBoostingClassifier(class_weight="balanced", random_state=SEED)
model.fit(X_train, y_train)
proba_val = model.predict_proba(X_val)[:, 1]
proba_test = model.predict_proba(X_test)[:, 1]
'''},
    # Other valid code paths throughout: get_dummies, validation split first, costs from a confusion matrix,
    # a vectorised threshold search and a crosstab.
    "other code paths: dummies, validation first, vectorised costs": {
        "features": '''
def make_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model inputs for each row of an AI4I frame, without leaking columns."""
    types = pd.get_dummies(frame["Type"], prefix="type", dtype=int).reindex(
        columns=["type_L", "type_M", "type_H"], fill_value=0)
    readings = frame[["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]",
                      "Torque [Nm]", "Tool wear [min]"]].set_axis(
        ["air_temp_K", "process_temp_K", "speed_rpm", "torque_Nm", "tool_wear_min"], axis=1)
    out = pd.concat([types, readings], axis=1)
    out = out.assign(temp_diff_K=out.process_temp_K - out.air_temp_K,
                     power_W=out.torque_Nm * out.speed_rpm * np.pi / 30)
    return out[FEATURES]


X = make_features(df)
y = df["Machine failure"]
''',
        "split": '''
X_rest, X_val, y_rest, y_val = train_test_split(X, y, test_size=2000, stratify=y, random_state=SEED)
X_train, X_test, y_train, y_test = train_test_split(
    X_rest, y_rest, test_size=2000, stratify=y_rest, random_state=SEED)
''',
        "cost_fn": _COST_FN_HEAD + '''
    (tn, fp), (fn, tp) = confusion_matrix(np.asarray(y_true), np.asarray(proba) >= threshold, labels=[0, 1])
    return float(fn * cost_miss + fp * cost_stop)
''',
        "threshold": '''
def best_threshold(y_true, proba, cost_miss: float, cost_stop: float, grid) -> float:
    """Return the grid threshold with the lowest total cost (the smallest on ties)."""
    grid = np.sort(np.asarray(grid, dtype=float))
    y_arr, p = np.asarray(y_true)[:, None], np.asarray(proba)[:, None]
    stops = p >= grid[None, :]
    costs = ((y_arr == 1) & ~stops).sum(axis=0) * cost_miss + ((y_arr == 0) & stops).sum(axis=0) * cost_stop
    return float(grid[np.flatnonzero(costs == costs.min())[0]])


threshold = best_threshold(y_val, proba_val, COST_MISS, COST_STOP, GRID)
''',
        "evaluate": '''
stop_test = np.where(proba_test >= threshold, 1, 0)
cm_test = pd.crosstab(pd.Categorical(y_test, [0, 1]), pd.Categorical(stop_test, [0, 1]), dropna=False).to_numpy()
test_cost = float(cm_test[1, 0] * COST_MISS + cm_test[0, 1] * COST_STOP)
no_model_cost = float((y_test == 1).sum() * COST_MISS)
''',
    },
    # Another valid feature set inside the model: a pipeline that keeps the readings, drops the redundant
    # one-hot column and feeds extra trees.
    "extra trees on a column subset": {"model": '''
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.pipeline import Pipeline

keep = ["type_L", "type_M", "air_temp_K", "process_temp_K", "speed_rpm", "torque_Nm", "tool_wear_min",
        "temp_diff_K", "power_W"]
model = Pipeline([
    ("columns", ColumnTransformer([("keep", "passthrough", keep)])),
    ("trees", ExtraTreesClassifier(n_estimators=200, min_samples_leaf=2, class_weight="balanced",
                                   random_state=SEED, n_jobs=1)),
])
model.fit(X_train, y_train)
proba_val = model.predict_proba(X_val)[:, 1]
proba_test = model.predict_proba(X_test)[:, 1]
'''},
}
