"""Answers to lab 4 that the autograder must tell apart.

WRONG: realistic mistakes; each must score strictly between 0 and full automatic marks, losing points in the
cell named in its comment. RIGHT: different but correct answers (another model family with another
calibration, another valid feature set, other correct code); each must keep full automatic marks.
"""

# --- Wrong answers -------------------------------------------------------------------------------------------

# test_split_features (visible): the label columns give the answer away.
_LABELS_LEFT_IN = '''
def split_features(df: pd.DataFrame):
    """Take the fault type as target but keep every column as a feature "to lose no information"."""
    X = df.copy()
    y = df[LABELS].idxmax(axis=1).rename("fault")
    return X, y
'''

# test_model (visible): areas in the 100,000s swamp indices below 1, so the rare classes are lost.
_UNSCALED_NEIGHBOURS = '''
def make_model():
    """Use nearest neighbours on the raw features (areas in the 100,000s next to indices below 1)."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5)
'''

# test_false_accepts (visible): cosmetic plates sent to grinding counted as shipped faults.
_FALSE_ACCEPT_REVERSED = '''
def count_false_accepts(y_true, y_pred) -> int:
    """Count cosmetic plates predicted as a serious fault (the wrong way round)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return int(np.sum(np.isin(y_true, COSMETIC) & ~np.isin(y_pred, COSMETIC)))
'''

# test_threshold (hidden): the tuned quantity is never tuned.
_FIXED_HALF = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """Return the usual 0.5, whatever the line's costs are."""
    return 0.5
'''

# test_split_plates (hidden): classes are not kept in proportion; Dirtiness drifts between the parts.
_UNSTRATIFIED = '''
def split_plates(X, y, seed: int):
    """Shuffle and cut 60/20/20 without stratifying ("the shuffle mixes the classes anyway")."""
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, random_state=seed)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, random_state=seed)
    return X_train, X_val, X_test, y_train, y_val, y_test
'''

# test_split_plates (hidden): only the first cut is stratified; validation and test drift apart.
_SECOND_CUT_UNSTRATIFIED = '''
def split_plates(X, y, seed: int):
    """Stratify the 60/40 cut; the 40 % is "already stratified", so halve it plainly."""
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, random_state=seed)
    return X_train, X_val, X_test, y_train, y_val, y_test
'''

# test_split_plates (visible sizes): 20 % of the remaining 80 % is 16 % of the plates, not 20 %.
_VALIDATION_FRACTION_OF_REST = '''
def split_plates(X, y, seed: int):
    """Hold out 20 % for test, then 20 % of what is left for validation."""
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.2, stratify=y_rest, random_state=seed)
    return X_train, X_val, X_test, y_train, y_val, y_test
'''

# test_fit (hidden refit on the training rows) and test_model (too good on validation): the threshold is then
# chosen on plates the model has already seen.
_FIT_ON_TRAIN_AND_VALIDATION = '''
model = make_model()
# "The validation set is only for the threshold, so the model may as well learn from it too."
model.fit(pd.concat([X_train, X_val]), pd.concat([y_train, y_val]))
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="macro")
'''

# test_fit (hidden refit) and test_model (too good to be true): every plate, test rows included, was learnt.
_FIT_ON_EVERYTHING = '''
model = make_model()
model.fit(X, y)  # "more data is always better"
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="macro")
'''

# test_fit (hidden): the named metric is macro-F1; the weighted average hides the rare classes.
_WEIGHTED_F1 = '''
model = make_model()
model.fit(X_train, y_train)
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="weighted")  # the "avg" row of classification_report
'''

# test_fit (hidden): micro-F1 equals accuracy here.
_MICRO_F1 = '''
model = make_model()
model.fit(X_train, y_train)
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="micro")
'''

# test_confusion (hidden): scikit-learn sorts the labels alphabetically, the names say LABELS order.
_CONFUSION_ALPHABETICAL = '''
def plate_confusion(y_true, y_pred) -> pd.DataFrame:
    """Count plates by true and predicted fault."""
    return pd.DataFrame(confusion_matrix(y_true, y_pred), index=LABELS, columns=LABELS)
'''

# test_confusion (visible): rows are the predictions.
_CONFUSION_TRANSPOSED = '''
def plate_confusion(y_true, y_pred) -> pd.DataFrame:
    """Count plates by predicted fault (rows) and true fault (columns)."""
    counts = confusion_matrix(np.asarray(y_pred), np.asarray(y_true), labels=LABELS)
    return pd.DataFrame(counts, index=LABELS, columns=LABELS)
'''

# test_line_cost (hidden): a Stains plate called Dirtiness is still a wrong call (a misroute) under the stated rule.
_COSMETIC_SWAP_FREE = '''
def line_cost(y_true, y_pred) -> int:
    """Cost in KRW; both cosmetic faults are just cleaned, so mixing them up "costs nothing"."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    reviews = int(np.sum(y_pred == REVIEW))
    false_accepts = count_false_accepts(y_true, y_pred)
    both_cosmetic = np.isin(y_true, COSMETIC) & np.isin(y_pred, COSMETIC)
    misroutes = int(np.sum((y_pred != y_true) & (y_pred != REVIEW) & ~both_cosmetic)) - false_accepts
    return COST_FALSE_ACCEPT * false_accepts + COST_MISROUTE * misroutes + COST_REVIEW * reviews
'''

# test_threshold (hidden tie probe): on ties the rule asks for the smaller threshold.
_TIES_TO_LARGER = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """Keep the last threshold that is at least as cheap as the best so far."""
    best, best_cost = None, None
    for t in grid:
        cost = line_cost(y_true, route(proba, classes, t))
        if best_cost is None or cost <= best_cost:
            best, best_cost = float(t), cost
    return best
'''

# test_threshold (hidden probes): the value printed by the model answer, copied in.
_HARD_CODED_070 = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """The threshold the worked example found."""
    return 0.7
'''

# test_threshold (hidden): chosen by accuracy on the plates the model decides, not by the line's cost.
_THRESHOLD_BY_ACCURACY = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """Pick the threshold that makes the automatic decisions most accurate while reviewing at most half."""
    y_true = np.asarray(y_true)
    best, best_acc = float(grid[0]), -1.0
    for t in grid:
        routed = route(proba, classes, t)
        decided = routed != REVIEW
        if decided.mean() < 0.5:
            continue
        acc = np.mean(routed[decided] == y_true[decided])
        if acc > best_acc:
            best, best_acc = float(t), acc
    return best
'''

# test_threshold (hidden probes): the threshold is tuned on the test set, the one the rule must only confirm.
_TUNED_ON_TEST = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """Pick the threshold that is cheapest on the test plates, "the ones that count"."""
    test_proba = model.predict_proba(X_test)
    costs = [line_cost(y_test, route(test_proba, model.classes_, t)) for t in grid]
    return float(grid[int(np.argmin(costs))])
'''

# test_route (hidden): a plate exactly at the threshold is reviewed.
_REVIEW_AT_EQUALITY = '''
def route(proba, classes, threshold: float):
    """Send the plate to review unless the model is more than `threshold` sure."""
    proba = np.asarray(proba)
    best = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    return np.where(proba.max(axis=1) <= threshold, REVIEW, best)
'''

# test_route (visible): the probability columns follow model.classes_ (alphabetical), not LABELS.
_ROUTE_WITH_LABELS_ORDER = '''
def route(proba, classes, threshold: float):
    """Name each column after LABELS."""
    proba = np.asarray(proba)
    best = np.asarray(LABELS, dtype=object)[proba.argmax(axis=1)]
    return np.where(proba.max(axis=1) < threshold, REVIEW, best)
'''

# count_false_accepts on Series: pandas pairs y_test (the split's index) with pred_test (0, 1, 2...) by index, not
# position. test_false_accepts must catch it.
_FALSE_ACCEPTS_BY_INDEX = '''
def count_false_accepts(y_true, y_pred) -> int:
    """Serious fault (not cosmetic) predicted as cosmetic."""
    y_true, y_pred = pd.Series(y_true), pd.Series(y_pred)
    return int((~y_true.isin(COSMETIC) & y_pred.isin(COSMETIC)).sum())
'''

# A smooth model (no memorising, so no too-good score) fitted on training and validation rows by rebinding
# X_train and y_train: a refit on the rebound X_train agreed. test_fit must catch it.
_SVM = '''
def make_model():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    return make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(C=10, class_weight="balanced"), ensemble=False))
'''
_FIT_ON_REBOUND_TRAIN_AND_VALIDATION = '''
model = make_model()
# The validation rows are only needed for the threshold: let the model learn from them too.
X_train = pd.concat([X_train, X_val])
y_train = pd.concat([y_train, y_val])
model.fit(X_train, y_train)
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="macro")
'''

# Nearest neighbours scaled outside the model: a scaler fitted on every plate, or one fitted on each part apart.
# The refit on the rebound (scaled) X_train agreed. test_fit must catch both.
_NEIGHBOURS = '''
def make_model():
    from sklearn.neighbors import KNeighborsClassifier
    return KNeighborsClassifier(n_neighbors=7, weights="distance")
'''
_SCALED_ON_ALL_PLATES = '''
model = make_model()
# Nearest neighbours need scaled features: standardise with the mean and spread of the data set.
from sklearn.preprocessing import StandardScaler
scaler = StandardScaler().fit(X)
X_train = pd.DataFrame(scaler.transform(X_train), index=X_train.index, columns=X.columns)
X_val = pd.DataFrame(scaler.transform(X_val), index=X_val.index, columns=X.columns)
X_test = pd.DataFrame(scaler.transform(X_test), index=X_test.index, columns=X.columns)
model.fit(X_train, y_train)
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="macro")
'''
_SCALED_EACH_PART = '''
model = make_model()
from sklearn.preprocessing import StandardScaler
scaler = StandardScaler()
X_train = scaler.fit_transform(X_train)
X_val = scaler.fit_transform(X_val)
X_test = scaler.fit_transform(X_test)
model.fit(X_train, y_train)
pred_test = model.predict(X_test)
macro_f1 = f1_score(y_test, pred_test, average="macro")
'''

WRONG = {
    "false accepts paired by index": {"false_accepts": _FALSE_ACCEPTS_BY_INDEX},
    "smooth model fitted on rebound training and validation rows": {"make_model": _SVM,
                                                                     "fit_model": _FIT_ON_REBOUND_TRAIN_AND_VALIDATION},
    "neighbours scaled with every plate's statistics": {"make_model": _NEIGHBOURS, "fit_model": _SCALED_ON_ALL_PLATES},
    "neighbours with each part scaled on its own": {"make_model": _NEIGHBOURS, "fit_model": _SCALED_EACH_PART},
    "label columns left in the features": {"split_features": _LABELS_LEFT_IN},
    "unscaled nearest neighbours": {"make_model": _UNSCALED_NEIGHBOURS},
    "false accepts counted the wrong way round": {"false_accepts": _FALSE_ACCEPT_REVERSED},
    "review threshold fixed at 0.5": {"best_threshold": _FIXED_HALF},
    "split not stratified": {"split_plates": _UNSTRATIFIED},
    "only the first cut stratified": {"split_plates": _SECOND_CUT_UNSTRATIFIED},
    "validation is 20 % of the remaining 80 %": {"split_plates": _VALIDATION_FRACTION_OF_REST},
    "model fitted on training and validation rows": {"fit_model": _FIT_ON_TRAIN_AND_VALIDATION},
    "model fitted on every plate, test rows included": {"fit_model": _FIT_ON_EVERYTHING},
    "weighted F1 reported as macro-F1": {"fit_model": _WEIGHTED_F1},
    "micro F1 reported as macro-F1": {"fit_model": _MICRO_F1},
    "confusion matrix in alphabetical order under LABELS names": {"confusion": _CONFUSION_ALPHABETICAL},
    "confusion matrix with predictions as rows": {"confusion": _CONFUSION_TRANSPOSED},
    "Stains taken for Dirtiness costs nothing": {"line_cost": _COSMETIC_SWAP_FREE},
    "threshold ties resolved to the larger value": {"best_threshold": _TIES_TO_LARGER},
    "threshold hard-coded from the worked example": {"best_threshold": _HARD_CODED_070},
    "threshold chosen by accuracy, not cost": {"best_threshold": _THRESHOLD_BY_ACCURACY},
    "threshold tuned on the test set": {"best_threshold": _TUNED_ON_TEST},
    "plate at exactly the threshold sent to review": {"route": _REVIEW_AT_EQUALITY},
    "probability columns named in LABELS order": {"route": _ROUTE_WITH_LABELS_ORDER},
}

# The test cell each wrong answer must lose its points in (it may lose others too, as a consequence).
LOSES = {
    "false accepts paired by index": "test_false_accepts",
    "smooth model fitted on rebound training and validation rows": "test_fit",
    "neighbours scaled with every plate's statistics": "test_fit",
    "neighbours with each part scaled on its own": "test_fit",
    "label columns left in the features": "test_split_features",
    "unscaled nearest neighbours": "test_model",
    "false accepts counted the wrong way round": "test_false_accepts",
    "review threshold fixed at 0.5": "test_threshold",
    "split not stratified": "test_split_plates",
    "only the first cut stratified": "test_split_plates",
    "validation is 20 % of the remaining 80 %": "test_split_plates",
    "model fitted on training and validation rows": "test_fit",
    "model fitted on every plate, test rows included": "test_fit",
    "weighted F1 reported as macro-F1": "test_fit",
    "micro F1 reported as macro-F1": "test_fit",
    "confusion matrix in alphabetical order under LABELS names": "test_confusion",
    "confusion matrix with predictions as rows": "test_confusion",
    "Stains taken for Dirtiness costs nothing": "test_line_cost",
    "threshold ties resolved to the larger value": "test_threshold",
    "threshold hard-coded from the worked example": "test_threshold",
    "threshold chosen by accuracy, not cost": "test_threshold",
    "threshold tuned on the test set": "test_threshold",
    "plate at exactly the threshold sent to review": "test_route",
    "probability columns named in LABELS order": "test_route",
}

# --- Different but correct answers ---------------------------------------------------------------------------

# Another tree family: more confident probabilities, so its cheapest threshold differs from the model answer's.
_EXTRA_TREES = '''
def make_model():
    """Extremely randomised trees with balanced class weights."""
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=300, class_weight="balanced", random_state=0, n_jobs=1)
'''

# Gradient boosting is sure of most plates: its cheapest threshold on validation is 1.0 (every plate it is not
# certain of goes to review). The old fixed range 0.6-0.95 took points from this correct, best-scoring model.
_GRADIENT_BOOSTING = '''
def make_model():
    """Histogram gradient boosting with balanced class weights."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight="balanced", random_state=0)
'''

# Another model family with another calibration (a scaled RBF SVM, probabilities by cross-validated calibration),
# written with other but equally correct code for every function.
_SVM = '''
def make_model():
    """Scaled RBF support vector machine, calibrated to give probabilities."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(C=10, class_weight="balanced"), ensemble=False))
'''

_SPLIT_SHUFFLE_SPLIT = '''
def split_plates(X, y, seed: int):
    """Stratified 60/20/20 with StratifiedShuffleSplit, test carved first."""
    from sklearn.model_selection import StratifiedShuffleSplit

    rest, test = next(StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed).split(X, y))
    X_rest, y_rest = X.iloc[rest], y.iloc[rest]
    train, val = next(StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=seed).split(X_rest, y_rest))
    return X_rest.iloc[train], X_rest.iloc[val], X.iloc[test], y_rest.iloc[train], y_rest.iloc[val], y.iloc[test]
'''

_CONFUSION_CROSSTAB = '''
def plate_confusion(y_true, y_pred) -> pd.DataFrame:
    """Cross-tabulate true against predicted faults, then put both axes in LABELS order."""
    table = pd.crosstab(pd.Series(np.asarray(y_true), name="true"), pd.Series(np.asarray(y_pred), name="pred"))
    return table.reindex(index=LABELS, columns=LABELS, fill_value=0).rename_axis(index=None, columns=None)
'''

_COST_LOOP = '''
def line_cost(y_true, y_pred) -> int:
    """Add up the cost plate by plate."""
    total = 0
    for truth, call in zip(list(y_true), list(y_pred)):
        if call == REVIEW:
            total += COST_REVIEW
        elif call == truth:
            continue
        elif call in COSMETIC and truth not in COSMETIC:
            total += COST_FALSE_ACCEPT
        else:
            total += COST_MISROUTE
    return total
'''

_ROUTE_FRAME = '''
def route(proba, classes, threshold: float):
    """Name the most probable column per row with pandas, then apply the threshold."""
    frame = pd.DataFrame(np.asarray(proba), columns=list(classes))
    return np.where(frame.max(axis=1).to_numpy() < threshold, REVIEW, frame.idxmax(axis=1).to_numpy())
'''

_BEST_LOOP = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """Scan the grid and keep the first threshold with the lowest cost."""
    best, best_cost = None, None
    for t in grid:
        cost = line_cost(y_true, route(proba, classes, t))
        if best_cost is None or cost < best_cost:
            best, best_cost = float(t), cost
    return best
'''

# Another valid feature set: the model drops where on the plate the defect is (bounding-box coordinates) and
# works on log-scaled sizes, inside its own pipeline; split_features still hands it all 27 columns.
_KNN_SHAPE_ONLY = '''
def make_model():
    """Scaled nearest neighbours on size, shape and brightness, not on the defect's position."""
    from sklearn.compose import ColumnTransformer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    position = ["X_Minimum", "X_Maximum", "Y_Minimum", "Y_Maximum"]
    keep = ColumnTransformer([("position", "drop", position)], remainder="passthrough")
    return make_pipeline(keep, StandardScaler(), KNeighborsClassifier(n_neighbors=7, weights="distance"))
'''

_SPLIT_TEST_FIRST = '''
def split_plates(X, y, seed: int):
    """Carve the 20 % test set first, then a quarter of the rest (20 % of all) for validation."""
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed)
    return X_train, X_val, X_test, y_train, y_val, y_test
'''

_FIT_CHAINED = '''
model = make_model().fit(X_train, y_train)
pred_test = model.predict(X_test)
scores = f1_score(y_test, pred_test, average=None)
macro_f1 = float(np.mean(scores))  # macro: the plain mean of the per-class F1
'''

RIGHT = {
    "extra trees": {"make_model": _EXTRA_TREES},
    "gradient boosting, review threshold 1.0": {"make_model": _GRADIENT_BOOSTING},
    "calibrated SVM, other code throughout": {
        "make_model": _SVM,
        "split_plates": _SPLIT_SHUFFLE_SPLIT,
        "confusion": _CONFUSION_CROSSTAB,
        "line_cost": _COST_LOOP,
        "route": _ROUTE_FRAME,
        "best_threshold": _BEST_LOOP,
    },
    "nearest neighbours without position features": {
        "make_model": _KNN_SHAPE_ONLY,
        "split_plates": _SPLIT_TEST_FIRST,
        "fit_model": _FIT_CHAINED,
    },
}
