"""Realistic wrong answers to lab 1; each must score strictly between 0 and full automatic marks."""

_LEAKY_FEATURES = '''
def make_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model inputs, keeping the failure-mode flags because they "predict so well"."""
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
    for flag in ["TWF", "HDF", "PWF", "OSF", "RNF"]:
        out[flag] = frame[flag]
    return out


X = make_features(df)
y = df["Machine failure"]
'''

_DEFAULT_THRESHOLD = '''
def best_threshold(y_true, proba, cost_miss: float, cost_stop: float, grid) -> float:
    """Return the usual 0.5, ignoring what a miss and a stop cost."""
    return 0.5


threshold = best_threshold(y_val, proba_val, COST_MISS, COST_STOP, GRID)
'''

_UNSCALED_LINEAR = '''
from sklearn.linear_model import LogisticRegression

model = LogisticRegression(class_weight="balanced", max_iter=200)
model.fit(X_train, y_train)
proba_val = model.predict_proba(X_val)[:, 1]
proba_test = model.predict_proba(X_test)[:, 1]
'''

WRONG = {
    "leaks failure-mode flags": {"features": _LEAKY_FEATURES},
    "default threshold 0.5": {"threshold": _DEFAULT_THRESHOLD},
    "unscaled linear model": {"model": _UNSCALED_LINEAR},
}
