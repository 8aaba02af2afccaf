"""Realistic wrong answers to lab 2; each must score strictly between 0 and full automatic marks."""

_MIDNIGHT_NOT_FIXED = '''
def add_time_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with time columns, trusting the 00:00 rows to be the start of their day."""
    out = frame.copy()
    out["end"] = pd.to_datetime(out["date"], format="%d/%m/%Y %H:%M")
    out["start"] = out["end"] - pd.Timedelta(minutes=15)
    out["hour"] = out["start"].dt.hour
    out["dayofweek"] = out["start"].dt.day_of_week
    out["month"] = out["start"].dt.month
    return out


df = add_time_columns(raw)
'''

_LEAKY_FEATURES = '''
def make_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return calendar features plus CO2 and reactive power, which are measured with the target."""
    start = frame["start"]
    tod = start.dt.hour + start.dt.minute / 60
    out = pd.DataFrame(index=frame.index)
    out["tod_hours"] = tod
    out["tod_sin"] = np.sin(2 * np.pi * tod / 24)
    out["tod_cos"] = np.cos(2 * np.pi * tod / 24)
    out["dayofweek"] = frame["dayofweek"]
    out["is_weekend"] = (frame["dayofweek"] >= 5).astype(int)
    out["CO2(tCO2)"] = frame["CO2(tCO2)"]
    out["Lagging_Current_Reactive.Power_kVarh"] = frame["Lagging_Current_Reactive.Power_kVarh"]
    return out


X = make_features(df)
y = df["Usage_kWh"]
'''

_SHUFFLED_SPLIT = '''
from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=5856, random_state=SEED)
'''

WRONG = {
    "midnight rows left on the wrong day": {"time_columns": _MIDNIGHT_NOT_FIXED},
    "CO2 and reactive power as features": {"features": _LEAKY_FEATURES},
    "shuffled instead of time-ordered split": {"split": _SHUFFLED_SPLIT},
}
