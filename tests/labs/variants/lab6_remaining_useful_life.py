"""Realistic wrong answers to lab 6; each must score strictly between 0 and full automatic marks."""

# The cap is forgotten: early-life rows get targets of 300+ cycles that no sensor can explain.
_NO_CAP = '''
def add_rul(df: pd.DataFrame, cap: int | None = RUL_CAP) -> pd.DataFrame:
    """Return a copy of df with the RUL column: cycles left to the unit's last cycle."""
    out = df.copy()
    out["RUL"] = out.groupby("unit")["cycle"].transform("max") - out["cycle"]
    return out


train = add_rul(train_raw)
'''

# "Constant" tested as std == 0: s5 and s16 are constant but their std is 1e-15, not 0, so they stay.
_STD_EQUALS_ZERO = '''
def constant_columns(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return the given columns whose standard deviation is zero."""
    return [c for c in columns if df[c].std() == 0]


dropped = constant_columns(train, SETTINGS + SENSORS)
sensors = [s for s in SENSORS if s not in dropped]
'''

# Rolling over the whole table: each engine's first windows average in the previous engine's last cycles.
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

# The error taken as true - predicted: late and early swap, so optimistic predictions look cheap.
_SIGN_FLIPPED_SCORE = '''
def phm08_score(y_true, y_pred) -> float:
    """Return the PHM08 score of the predictions."""
    d = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))


test_score = phm08_score(y_last_true, y_last_pred)
'''

WRONG = {
    "RUL not capped": {"rul_labels": _NO_CAP},
    "constant means std == 0": {"constant_sensors": _STD_EQUALS_ZERO},
    "rolling window crosses engines": {"window_features": _ROLLING_ACROSS_UNITS},
    "PHM08 error sign flipped": {"phm_score": _SIGN_FLIPPED_SCORE},
}
