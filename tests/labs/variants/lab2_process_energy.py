"""Answers to lab 2 that the tests must tell apart: WRONG ones lose points, RIGHT ones keep full marks.

Each WRONG answer is a mistake a trainee in this course might make; LOSES names the test cells that must catch
it (the cells that test that mistake), so a variant that loses points for another reason shows up in review.
"""

_TIME_HEAD = '''
def add_time_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of the frame with the interval's end, start, hour, weekday and month."""
    out = frame.copy()
    end = pd.to_datetime(out["date"], format="%d/%m/%Y %H:%M")
'''

_TIME_TAIL = '''

df = add_time_columns(raw)
'''

_CALENDAR = '''
def make_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the features of each interval that are known a day before it starts."""
    start = frame["start"]
    tod = start.dt.hour + start.dt.minute / 60
    usage = frame["Usage_kWh"]
    out = pd.DataFrame(index=frame.index)
    out["tod_hours"] = tod
    out["tod_sin"] = np.sin(2 * np.pi * tod / 24)
    out["tod_cos"] = np.cos(2 * np.pi * tod / 24)
    out["dayofweek"] = frame["dayofweek"]
    out["is_weekend"] = (frame["dayofweek"] >= 5).astype(int)
'''

# The model answer's history columns, for variants that differ only in a column added after them.
_ANSWER_LAGS = '''
    out["lag_1d"] = usage.shift(96)
    out["lag_7d"] = usage.shift(672)
    out["mean_7d"] = pd.concat([usage.shift(k * 96) for k in range(1, 8)], axis=1).mean(axis=1)
'''

_FEATURES_TAIL = '''
    return out


X = make_features(df)
y = df["Usage_kWh"]
'''

_PROFILE_TAIL = '''
mae_constant = mean_absolute_error(y_test, np.full(len(y_test), y_train.mean()))
mae_profile = mean_absolute_error(y_test, pred_profile)
'''

_MODEL_TAIL = '''
mae_model = mean_absolute_error(y_test, pred_model)
'''

_SAVING = '''
def energy_cost(usage_kwh, bands, prices: dict) -> float:
    """Return the bill in won for the given usage per interval and its tariff band."""
    unit = pd.Series(np.asarray(bands)).map(prices).to_numpy()
    return float(np.sum(np.asarray(usage_kwh) * unit))


def shift_saving(usage_kwh, bands, share: float, prices: dict) -> float:
    """Return the won saved by moving `share` of the peak-band energy into the light band."""
    peak_kwh = float(np.sum(np.asarray(usage_kwh)[np.asarray(bands) == "peak"]))
    return share * peak_kwh * (prices["peak"] - prices["light"])
'''

WRONG = {
    "midnight rows left on the wrong day": {"time_columns": _TIME_HEAD + '''
    out["end"] = end
    out["start"] = end - pd.Timedelta(minutes=15)
    out["hour"] = out["start"].dt.hour
    out["dayofweek"] = out["start"].dt.day_of_week
    out["month"] = out["start"].dt.month
    return out
''' + _TIME_TAIL},
    # The 00:00 rows (24:00) get the next day's weekday: counted from the end, not the start.
    "weekday of the interval end": {"time_columns": _TIME_HEAD + '''
    end = end + pd.to_timedelta((out["NSM"] == 0).astype(int), unit="D")
    out["end"] = end
    out["start"] = end - pd.Timedelta(minutes=15)
    out["hour"] = out["start"].dt.hour
    out["dayofweek"] = out["end"].dt.day_of_week
    out["month"] = out["start"].dt.month
    return out
''' + _TIME_TAIL},
    # Leakage: measured with the target in the same interval.
    "CO2 and reactive power as features": {"features": _CALENDAR + '''
    out["lag_1d"] = usage.shift(96)
    out["lag_7d"] = usage.shift(672)
    out["co2"] = frame["CO2(tCO2)"]
    out["reactive_kvarh"] = frame["Lagging_Current_Reactive.Power_kVarh"]
''' + _FEATURES_TAIL},
    # Domain constant off by a factor: a day taken as 24 rows, as if the data were hourly (6 hours, 42 hours).
    "a day taken as 24 rows (hourly data assumed)": {"features": _CALENDAR + '''
    out["lag_1d"] = usage.shift(24)
    out["lag_7d"] = usage.shift(24 * 7)
''' + _FEATURES_TAIL},
    # Leakage through an extra feature: the 7-day rolling mean ends at the interval itself.
    "7-day rolling mean that ends at the interval": {"features": _CALENDAR + '''
    out["lag_1d"] = usage.shift(96)
    out["lag_7d"] = usage.shift(672)
    out["mean_7d"] = usage.rolling(672, min_periods=1).mean()
''' + _FEATURES_TAIL},
    # Leakage: the last hour's usage "to help the model" (not known a day ahead).
    "last hour's usage as an extra feature": {"features": _CALENDAR + '''
    out["lag_1d"] = usage.shift(96)
    out["lag_7d"] = usage.shift(672)
    out["last_hour"] = usage.shift(4)
''' + _FEATURES_TAIL},
    # Lags taken from the global df instead of the frame passed in (right on df, wrong on any other frame).
    "lags from the global df, not the frame": {"features": _CALENDAR + '''
    out["lag_1d"] = df["Usage_kWh"].shift(96)
    out["lag_7d"] = df["Usage_kWh"].shift(672)
    out["mean_7d"] = pd.concat([df["Usage_kWh"].shift(k * 96) for k in range(1, 8)], axis=1).mean(axis=1)
''' + _FEATURES_TAIL},
    # Leakage through a table made beforehand from the whole year (held-out months included), looked up by
    # weekday and quarter-hour: make_features never reads the usage of the frame it is given for this column,
    # so every call on a changed frame looks clean; only running the notebook again on changed data shows it.
    "weekly level from a table of the whole year": {"features": '''
SLOT = df["start"].dt.day_of_week * 96 + df["start"].dt.hour * 4 + df["start"].dt.minute // 15
WEEKLY_LEVEL = df["Usage_kWh"].groupby(SLOT).mean()
''' + _CALENDAR + _ANSWER_LAGS + '''    slot = start.dt.day_of_week * 96 + start.dt.hour * 4 + start.dt.minute // 15
    out["weekly_level"] = slot.map(WEEKLY_LEVEL).to_numpy()
''' + _FEATURES_TAIL},
    # Yesterday's calendar-day total from a table of every day: for a morning interval it holds the usage of
    # yesterday evening, within 24 hours. Computed from the frame, the frame's own check would catch it.
    "yesterday's total from a table of every day": {"features": '''
DAILY_TOTAL = df.groupby(df["start"].dt.normalize())["Usage_kWh"].sum()
''' + _CALENDAR + _ANSWER_LAGS + '''    out["yesterday_total"] = (start.dt.normalize() - pd.Timedelta(days=1)).map(DAILY_TOTAL).to_numpy()
''' + _FEATURES_TAIL},
    # A flag of idle days (holidays, quiet Sundays) from a table of every day's total: the day's own usage decides
    # it. The plant's idle days stay idle when a busy day's usage changes; the rerun changes an idle Sunday.
    "idle days from a table of every day": {"features": '''
DAILY_TOTAL = df.groupby(df["start"].dt.normalize())["Usage_kWh"].sum()
IDLE_DAYS = DAILY_TOTAL.index[DAILY_TOTAL < 1000]
''' + _CALENDAR + _ANSWER_LAGS + '''    out["idle_day"] = start.dt.normalize().isin(IDLE_DAYS).astype(int)
''' + _FEATURES_TAIL},
    # The same flag from the day's own total in the frame: moves only when the change turns an idle day busy.
    "idle flag from the day's own total": {"features": _CALENDAR + _ANSWER_LAGS + '''
    day_total = usage.groupby(start.dt.normalize()).transform("sum")
    out["idle_day"] = (day_total < 1000).astype(int)
''' + _FEATURES_TAIL},
    # The same whole-year table, added to X in the split cell, after the features test: only a rerun through the
    # model cell shows it.
    "weekly level of the whole year added in the split cell": {"split": '''
SLOT = df["start"].dt.day_of_week * 96 + df["start"].dt.hour * 4 + df["start"].dt.minute // 15
X["weekly_level"] = SLOT.map(df["Usage_kWh"].groupby(SLOT).mean())
is_train = df["start"] < CUTOFF
X_train, X_test = X[is_train], X[~is_train]
y_train, y_test = y[is_train], y[~is_train]
'''},
    # The load type (measured with the interval's own usage) averaged per weekly slot over the whole year.
    "typical load type per weekly slot from the whole year": {"features": '''
LOAD_CODE = {"Light_Load": 0, "Medium_Load": 1, "Maximum_Load": 2}
_slot = df["start"].dt.day_of_week * 96 + df["start"].dt.hour * 4 + df["start"].dt.minute // 15
TYPICAL_LOAD = df["Load_Type"].map(LOAD_CODE).groupby(_slot).mean()
''' + _CALENDAR + _ANSWER_LAGS + '''    slot = start.dt.day_of_week * 96 + start.dt.hour * 4 + start.dt.minute // 15
    out["typical_load"] = slot.map(TYPICAL_LOAD).to_numpy()
''' + _FEATURES_TAIL},
    "shuffled instead of time-ordered split": {"split": '''
from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=5856, random_state=SEED)
'''},
    # The interval ending at 00:00 on 1 November started in October: it trains.
    "split on the interval end instead of its start": {"split": '''
is_train = df["end"] < CUTOFF
X_train, X_test = X[is_train], X[~is_train]
y_train, y_test = y[is_train], y[~is_train]
'''},
    # Leakage: the baseline profile averages the held-out months too.
    "profile from all months": {"profile": '''
keys = ["dayofweek", "tod_hours"]
profile = X[keys].assign(usage=y).groupby(keys)["usage"].mean()
pred_profile = X_test[keys].join(profile, on=keys)["usage"].to_numpy()
''' + _PROFILE_TAIL},
    # Wrong aggregation: the median per slot, not the mean the task names.
    "median profile": {"profile": '''
keys = ["dayofweek", "tod_hours"]
profile = X_train[keys].assign(usage=y_train).groupby(keys)["usage"].median()
pred_profile = X_test[keys].join(profile, on=keys)["usage"].to_numpy()
''' + _PROFILE_TAIL},
    "profile per hour instead of per quarter-hour": {"profile": '''
hours = X_train["tod_hours"].astype(int)
profile = y_train.groupby([X_train["dayofweek"], hours]).mean()
pred_profile = np.array([profile[(d, h)] for d, h in zip(X_test["dayofweek"], X_test["tod_hours"].astype(int))])
''' + _PROFILE_TAIL},
    # A weaker baseline makes a calendar-only model look useful: passes the visible bar, not the hidden one.
    "weak profile so a calendar-only model passes": {
        "profile": '''
profile = y_train.groupby(X_train["is_weekend"]).mean()
pred_profile = X_test["is_weekend"].map(profile).to_numpy()
''' + _PROFILE_TAIL,
        "model": '''
calendar = ["tod_hours", "tod_sin", "tod_cos", "dayofweek", "is_weekend"]
model = HistGradientBoostingRegressor(max_iter=100, random_state=SEED)
model.fit(X_train[calendar], y_train)
pred_model = model.predict(X_test[calendar])
''' + _MODEL_TAIL,
    },
    # Wrongly transformed target: fitted on log usage, predictions left in log units.
    "log target left in log units": {"model": '''
model = HistGradientBoostingRegressor(max_iter=100, random_state=SEED)
model.fit(X_train, np.log1p(y_train))
pred_model = model.predict(X_test)
''' + _MODEL_TAIL},
    # Wrongly transformed target: log1p undone with exp, so every forecast is 1 kWh high (sklearn only warns).
    "log1p target undone with exp": {"model": '''
from sklearn.compose import TransformedTargetRegressor

model = TransformedTargetRegressor(regressor=HistGradientBoostingRegressor(max_iter=100, random_state=SEED),
                                   func=np.log1p, inverse_func=np.exp, check_inverse=False)
model.fit(X_train, y_train)
pred_model = model.predict(X_test)
''' + _MODEL_TAIL},
    # Leakage: the model saw November and December.
    "model fitted on all months": {"model": '''
model = HistGradientBoostingRegressor(max_iter=100, random_state=SEED)
model.fit(X, y)
pred_model = model.predict(X_test)
''' + _MODEL_TAIL},
    "saving moved to the mid band": {"saving": '''
def energy_cost(usage_kwh, bands, prices: dict) -> float:
    """Return the bill in won for the given usage per interval and its tariff band."""
    unit = pd.Series(np.asarray(bands)).map(prices).to_numpy()
    return float(np.sum(np.asarray(usage_kwh) * unit))


def shift_saving(usage_kwh, bands, share: float, prices: dict) -> float:
    """Return the won saved by moving `share` of the peak-band energy to cheaper hours."""
    peak_kwh = float(np.sum(np.asarray(usage_kwh)[np.asarray(bands) == "peak"]))
    return share * peak_kwh * (prices["peak"] - prices["mid"])
'''},
    # Domain constant: the 15-minute kWh read as kW and turned into energy again (a factor 4).
    "15-minute kWh taken as kW": {"saving": '''
def energy_cost(usage_kwh, bands, prices: dict) -> float:
    """Return the bill in won: each reading is a power in kW held for a quarter of an hour."""
    unit = pd.Series(np.asarray(bands)).map(prices).to_numpy()
    return float(np.sum(np.asarray(usage_kwh) * 0.25 * unit))


def shift_saving(usage_kwh, bands, share: float, prices: dict) -> float:
    """Return the won saved by moving `share` of the peak-band energy into the light band."""
    peak_kwh = float(np.sum(np.asarray(usage_kwh)[np.asarray(bands) == "peak"])) * 0.25
    return share * peak_kwh * (prices["peak"] - prices["light"])
'''},
    # Right on the visible arrays, wrong when pandas aligns two Series by index (the forecast and bands_test).
    "usage and bands matched by index": {"saving": '''
def energy_cost(usage_kwh, bands, prices: dict) -> float:
    """Return the bill in won for the given usage per interval and its tariff band."""
    return float((pd.Series(usage_kwh) * pd.Series(bands).map(prices)).sum())


def shift_saving(usage_kwh, bands, share: float, prices: dict) -> float:
    """Return the won saved by moving `share` of the peak-band energy into the light band."""
    usage, band = pd.Series(usage_kwh), pd.Series(bands)
    return float(share * usage[band == "peak"].sum() * (prices["peak"] - prices["light"]))
'''},
    # Labels in the wrong order: prices taken by the dictionary's order, right only while it is light, mid, peak.
    "prices looked up by the dictionary's order": {"saving": '''
def energy_cost(usage_kwh, bands, prices: dict) -> float:
    """Return the bill in won for the given usage per interval and its tariff band."""
    codes = pd.Categorical(np.asarray(bands), categories=["light", "mid", "peak"]).codes
    return float(np.sum(np.asarray(usage_kwh) * np.array(list(prices.values()))[codes]))


def shift_saving(usage_kwh, bands, share: float, prices: dict) -> float:
    """Return the won saved by moving `share` of the peak-band energy into the light band."""
    light, mid, peak = prices.values()
    return float(share * np.sum(np.asarray(usage_kwh)[np.asarray(bands) == "peak"]) * (peak - light))
'''},
    # The plan built from what actually happened in November and December, not from the forecast.
    "plan from the actual usage": {"plan": '''
bands_test = tariff_band(df.loc[X_test.index, "start"])
plan_bill = energy_cost(y_test, bands_test, PRICES)
plan_saving = shift_saving(y_test, bands_test, SHARE, PRICES)
actual_saving = shift_saving(y_test, bands_test, SHARE, PRICES)
'''},
    # The old task: the whole year's actual usage.
    "plan from the whole year's actual usage": {"plan": '''
bands_test = tariff_band(df.loc[X_test.index, "start"])
plan_bill = energy_cost(df["Usage_kWh"], bands, PRICES)
plan_saving = shift_saving(df["Usage_kWh"], bands, SHARE, PRICES)
actual_saving = shift_saving(y_test, bands_test, SHARE, PRICES)
'''},
    "plan from the weekly profile, not the model": {"plan": '''
bands_test = tariff_band(df.loc[X_test.index, "start"])
plan_bill = energy_cost(pred_profile, bands_test, PRICES)
plan_saving = shift_saving(pred_profile, bands_test, SHARE, PRICES)
actual_saving = shift_saving(y_test, bands_test, SHARE, PRICES)
'''},
}

# The test cells each wrong answer must lose points in (it may lose more where a later cell builds on it).
LOSES = {
    "midnight rows left on the wrong day": {"test_time_columns"},
    "weekday of the interval end": {"test_time_columns"},
    "CO2 and reactive power as features": {"test_features_day_ahead", "test_model"},
    "a day taken as 24 rows (hourly data assumed)": {"test_features_columns", "test_features_day_ahead"},
    "7-day rolling mean that ends at the interval": {"test_features_day_ahead"},
    "last hour's usage as an extra feature": {"test_features_day_ahead", "test_model"},
    "lags from the global df, not the frame": {"test_features_values"},
    "weekly level from a table of the whole year": {"test_features_day_ahead"},
    "yesterday's total from a table of every day": {"test_features_day_ahead"},
    "weekly level of the whole year added in the split cell": {"test_model"},
    "idle days from a table of every day": {"test_features_day_ahead"},
    "idle flag from the day's own total": {"test_features_day_ahead"},
    "typical load type per weekly slot from the whole year": {"test_features_day_ahead"},
    "shuffled instead of time-ordered split": {"test_split"},
    "split on the interval end instead of its start": {"test_split"},
    "profile from all months": {"test_profile"},
    "median profile": {"test_profile"},
    "profile per hour instead of per quarter-hour": {"test_profile"},
    "weak profile so a calendar-only model passes": {"test_profile", "test_model"},
    "model fitted on all months": {"test_model"},
    "saving moved to the mid band": {"test_saving"},
    "15-minute kWh taken as kW": {"test_saving"},
    "usage and bands matched by index": {"test_saving", "test_plan"},
    "prices looked up by the dictionary's order": {"test_saving"},
    "log target left in log units": {"test_model"},
    "log1p target undone with exp": {"test_model"},
    "plan from the actual usage": {"test_plan"},
    "plan from the whole year's actual usage": {"test_plan"},
    "plan from the weekly profile, not the model": {"test_plan"},
}

RIGHT = {
    # Another feature set (only the required columns) and a loss that matches the MAE.
    "absolute-error boosting on the required features only": {
        "features": _CALENDAR + '''
    out["lag_1d"] = usage.shift(96)
    out["lag_7d"] = usage.shift(672)
''' + _FEATURES_TAIL,
        "model": '''
model = HistGradientBoostingRegressor(loss="absolute_error", max_iter=100, random_state=SEED)
model.fit(X_train, y_train)
pred_model = model.predict(X_test)
''' + _MODEL_TAIL,
    },
    # Another model family on a longer history, with the gaps imputed inside the pipeline (fitted on train only).
    "extra trees on a longer history": {
        "features": _CALENDAR + '''
    out["lag_1d"] = usage.shift(96)
    out["lag_7d"] = usage.shift(672)
    same_time = pd.concat([usage.shift(k * 96) for k in range(1, 15)], axis=1)
    out["median_14d"] = same_time.median(axis=1)
    out["lag_2d"] = usage.shift(2 * 96)
    out["day_before_mean"] = usage.shift(96).rolling(96, min_periods=1).mean()
''' + _FEATURES_TAIL,
        "model": '''
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

model = make_pipeline(SimpleImputer(strategy="median"),
                      ExtraTreesRegressor(n_estimators=60, min_samples_leaf=20, random_state=SEED, n_jobs=1))
model.fit(X_train, y_train)
pred_model = model.predict(X_test)
''' + _MODEL_TAIL,
    },
    # Tables kept in the notebook done right: a fixed list of public holidays (calendar, known in advance) and a
    # weekly level from the frame's own earlier weeks (the same weekday and quarter-hour, one week back and before).
    "holiday list and the weekly level of earlier weeks": {"features": '''
HOLIDAYS = pd.to_datetime(["2018-01-01", "2018-02-15", "2018-02-16", "2018-02-17", "2018-03-01", "2018-05-05",
                           "2018-05-07", "2018-05-22", "2018-06-06", "2018-06-13", "2018-08-15", "2018-09-23",
                           "2018-09-24", "2018-09-25", "2018-09-26", "2018-10-03", "2018-10-09", "2018-12-25"])
''' + _CALENDAR + _ANSWER_LAGS + '''    slot = (start.dt.day_of_week * 96 + start.dt.hour * 4 + start.dt.minute // 15).to_numpy()
    out["weekly_level"] = usage.groupby(slot).transform(lambda s: s.shift(1).expanding().mean())
    out["holiday"] = start.dt.normalize().isin(HOLIDAYS).astype(int)
''' + _FEATURES_TAIL},
    # A log target done right (inside the model) and only the rows with complete history fitted.
    "log target inside the model, complete rows only": {"model": '''
from sklearn.compose import TransformedTargetRegressor

model = TransformedTargetRegressor(
    regressor=HistGradientBoostingRegressor(loss="absolute_error", max_iter=100, random_state=SEED),
    func=np.log1p, inverse_func=np.expm1)
complete = X_train.notna().all(axis=1)
model.fit(X_train[complete], y_train[complete])
pred_model = model.predict(X_test)
''' + _MODEL_TAIL},
    # Other valid code paths: a positional split, a pivot-table profile, dictionary look-ups for prices.
    "other code paths: positional split, pivot profile": {
        "split": '''
n_train = int((df["start"] < CUTOFF).sum())
X_train, X_test = X.iloc[:n_train], X.iloc[n_train:]
y_train, y_test = y.iloc[:n_train], y.iloc[n_train:]
''',
        "profile": '''
table = pd.pivot_table(X_train.assign(usage=y_train), values="usage", index="dayofweek", columns="tod_hours",
                       aggfunc="mean")
pred_profile = np.array([table.at[d, t] for d, t in zip(X_test["dayofweek"], X_test["tod_hours"])])
''' + _PROFILE_TAIL,
        "saving": '''
def energy_cost(usage_kwh, bands, prices: dict) -> float:
    """Return the bill in won for the given usage per interval and its tariff band."""
    return float(sum(u * prices[b] for u, b in zip(np.asarray(usage_kwh), np.asarray(bands))))


def shift_saving(usage_kwh, bands, share: float, prices: dict) -> float:
    """Return the won saved by moving `share` of the peak-band energy into the light band."""
    moved = share * sum(u for u, b in zip(np.asarray(usage_kwh), np.asarray(bands)) if b == "peak")
    return float(moved * prices["peak"] - moved * prices["light"])
''',
        "plan": '''
bands_test = bands.loc[X_test.index]
plan_bill = energy_cost(pred_model, bands_test, PRICES)
plan_saving = shift_saving(pred_model, bands_test, SHARE, PRICES)
actual_saving = shift_saving(y_test.to_numpy(), bands_test.to_numpy(), SHARE, PRICES)
''',
    },
}
