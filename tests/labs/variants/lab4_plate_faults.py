"""Realistic wrong answers to lab 4; each must score strictly between 0 and full automatic marks."""

_LABELS_LEFT_IN = '''
def split_features(df: pd.DataFrame):
    """Take the fault type as target but keep every column as a feature "to lose no information"."""
    X = df.copy()
    y = df[LABELS].idxmax(axis=1).rename("fault")
    return X, y
'''

_UNSCALED_NEIGHBOURS = '''
def make_model():
    """Use nearest neighbours on the raw features (areas in the 100,000s next to indices below 1)."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5)
'''

_FALSE_ACCEPT_REVERSED = '''
def count_false_accepts(y_true, y_pred) -> int:
    """Count cosmetic plates predicted as a serious fault (the wrong way round)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return int(np.sum(np.isin(y_true, COSMETIC) & ~np.isin(y_pred, COSMETIC)))
'''

_FIXED_HALF = '''
def best_review_threshold(y_true, proba, classes, grid) -> float:
    """Return the usual 0.5, whatever the line's costs are."""
    return 0.5
'''

WRONG = {
    "label columns left in the features": {"split_features": _LABELS_LEFT_IN},
    "unscaled nearest neighbours": {"make_model": _UNSCALED_NEIGHBOURS},
    "false accepts counted the wrong way round": {"false_accepts": _FALSE_ACCEPT_REVERSED},
    "review threshold fixed at 0.5": {"best_threshold": _FIXED_HALF},
}
