"""Realistic wrong answers to lab 3; each must score strictly between 0 and full automatic marks."""

_FIRST_UNDERSCORE = '''
def class_of(path) -> str:
    """Return the part of the file name before the first underscore."""
    return pathlib.Path(path).stem.split("_")[0]
'''

_TRAIN_ON_EVERYTHING = '''
def stratified_split(y, test_fraction: float, seed: int):
    """Hold out a stratified test set, but keep training on every image "to use all the data"."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    test_idx = []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        test_idx.extend(idx[: int(round(len(idx) * test_fraction))])
    return np.arange(len(y)), np.sort(np.array(test_idx, dtype=np.int64))
'''

_TRANSPOSED_CONFUSION = '''
def confusion_matrix(y_true, y_pred, n_classes: int):
    """Count images with the predicted class as the row (axes swapped)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        cm[p, t] += 1
    return cm
'''

WRONG = {
    "class name cut at the first underscore": {"class_of": _FIRST_UNDERSCORE},
    "test images also used for training": {"stratified_split": _TRAIN_ON_EVERYTHING},
    "confusion matrix with swapped axes": {"confusion": _TRANSPOSED_CONFUSION},
}
