"""Lab 5 answers for the harness: WRONG ones must score less than full marks, RIGHT ones full marks.

Each entry maps a solution cell's grade_id to the source a trainee might write instead (the model answer's other
cells stay). The comment above each says the mistake and which test cell must catch it.
"""

# --- cell sources shared by several answers -------------------------------------------------------------------

_TIME_FEATURES_HEAD = '''
def rms(x) -> np.ndarray:
    """Return the root-mean-square along the last axis."""
    return np.sqrt(np.mean(np.square(np.asarray(x, dtype=float)), axis=-1))
'''

_CREST = '''

def crest_factor(x) -> np.ndarray:
    """Return the peak absolute value over the RMS along the last axis."""
    return np.max(np.abs(np.asarray(x, dtype=float)), axis=-1) / rms(x)
'''


def _window_features(band_peak_body: str, bsf: str = "2 * defect[\"BSF\"]") -> str:
    """Return a window_features cell whose band_peak has the given body."""
    return f'''
def window_features(windows: np.ndarray, fs: float, shaft_hz: float, tol: float = 6.0) -> pd.DataFrame:
    """Return one row of time and envelope features per window."""
    windows = np.asarray(windows, dtype=float)
    defect = bearing_frequencies(shaft_hz, **BEARING)
    freqs, amp = envelope_spectrum(windows, fs)

    def band_peak(f0: float) -> np.ndarray:
{band_peak_body}

    return pd.DataFrame({{
        "rms": rms(windows),
        "kurtosis": kurtosis(windows),
        "crest": crest_factor(windows),
        "env_bpfi": band_peak(defect["BPFI"]),
        "env_bpfo": band_peak(defect["BPFO"]),
        "env_bsf": band_peak({bsf}),
    }})
'''


_MAX_IN_BAND = '''        band = np.abs(freqs - f0) <= tol
        return amp[:, band].max(axis=1)'''


def _feature_table(shaft: str, fs: str = "FS") -> str:
    """Return a feature_table cell that calls window_features with the given sampling rate and shaft speed."""
    return f'''
parts = []
for rec in RECORDINGS.to_dict("records"):
    windows = segment(signals[rec["recording"]], WINDOW)
    part = window_features(windows, {fs}, {shaft})
    for column in ["recording", "label", "load_hp", "fault_in", "rpm", "seen"]:
        part[column] = rec[column]
    part["window"] = np.arange(len(windows))
    parts.append(part)
features = pd.concat(parts, ignore_index=True)
'''


def _model(features_list: str, estimator: str, train: str = 'features[split == "train"]', fit_x: str = "train[FEATURES]",
           prelude: str = "") -> str:
    """Return a model cell: FEATURES, the three tables, clf fitted and the seen-condition score."""
    return f'''{prelude}
FEATURES = {features_list}
train = {train}
seen_test = features[split == "test_seen"]
unseen_test = features[split == "test_unseen"]
clf = {estimator}
clf.fit({fit_x}, train["label"])
y_pred_seen = clf.predict(seen_test[FEATURES])
seen_macro_f1 = f1_score(seen_test["label"], y_pred_seen, average="macro")
'''


def _transfer(f1_args: str = 'labels=FAULTS, average="macro"', confusion_labels: str = "labels=CLASSES",
              rms_fit: str = 'train[["rms"]], train["label"]', tail: str = "") -> str:
    """Return a transfer cell with the given metric arguments, confusion labels and rms baseline fit."""
    return f'''
y_pred_unseen = clf.predict(unseen_test[FEATURES])
unseen_macro_f1 = f1_score(unseen_test["label"], y_pred_unseen, {f1_args})
confusion = pd.DataFrame(confusion_matrix(unseen_test["label"], y_pred_unseen, {confusion_labels}),
                         index=CLASSES, columns=CLASSES)
rms_clf = clone(clf).fit({rms_fit})
rms_unseen_f1 = f1_score(unseen_test["label"], rms_clf.predict(unseen_test[["rms"]]), {f1_args})
{tail}'''


_RF = "RandomForestClassifier(n_estimators=200, random_state=SEED)"
_MODEL_FEATURES = '["kurtosis", "crest", "env_bpfi", "env_bpfo", "env_bsf"]'

# --- realistic wrong answers ----------------------------------------------------------------------------------

# scipy.stats.kurtosis defaults to the excess (Fisher) definition: Gaussian noise gives 0, a sine -1.5.
# Caught by test_time_features (visible: the sine's kurtosis).
_EXCESS_KURTOSIS = _TIME_FEATURES_HEAD + '''

def kurtosis(x) -> np.ndarray:
    """Return the kurtosis along the last axis, as scipy gives it by default."""
    from scipy import stats
    return stats.kurtosis(np.asarray(x, dtype=float), axis=-1)
''' + _CREST

# Windows that overlap by half, "to get more training data": neighbouring windows share samples across the
# train/test boundary. Caught by test_segment (shape of the demo windows).
_HALF_OVERLAP = '''
def segment(signal, window: int) -> np.ndarray:
    """Cut a 1-D signal into half-overlapping windows."""
    signal = np.asarray(signal)
    hop = window // 2
    starts = range(0, len(signal) - window + 1, hop)
    return np.array([signal[s:s + window] for s in starts]).reshape(-1, window)
'''

# The inner and outer race formulas mixed up: the sign of the d/D term swapped. Caught by test_defect_frequencies.
_SWAPPED_RACES = '''
def bearing_frequencies(shaft_hz: float, n_balls: int, ball_d: float, pitch_d: float, contact_deg: float = 0.0) -> dict:
    """Return the BPFO, BPFI, BSF and FTF defect frequencies in Hz."""
    ratio = ball_d / pitch_d * np.cos(np.radians(contact_deg))
    return {
        "BPFO": n_balls / 2 * shaft_hz * (1 + ratio),
        "BPFI": n_balls / 2 * shaft_hz * (1 - ratio),
        "BSF": pitch_d / (2 * ball_d) * shaft_hz * (1 - ratio ** 2),
        "FTF": shaft_hz / 2 * (1 - ratio),
    }
'''

# The contact angle fed to cos() in degrees. Agrees with the right formula at 0 degrees (the CWRU bearing, the
# visible test) and only there. Caught by test_defect_frequencies (hidden: a 15 degree bearing).
_DEGREES_IN_COS = '''
def bearing_frequencies(shaft_hz: float, n_balls: int, ball_d: float, pitch_d: float, contact_deg: float = 0.0) -> dict:
    """Return the BPFO, BPFI, BSF and FTF defect frequencies in Hz."""
    ratio = ball_d / pitch_d * np.cos(contact_deg)
    return {
        "BPFO": n_balls / 2 * shaft_hz * (1 - ratio),
        "BPFI": n_balls / 2 * shaft_hz * (1 + ratio),
        "BSF": pitch_d / (2 * ball_d) * shaft_hz * (1 - ratio ** 2),
        "FTF": shaft_hz / 2 * (1 - ratio),
    }
'''

# The "envelope" spectrum is just the raw spectrum: no Hilbert transform. Caught by test_spectra (visible).
_NO_HILBERT = '''
def amplitude_spectrum(x, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the one-sided amplitude spectrum (freqs, amp) along the last axis."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    amp = np.abs(np.fft.rfft(x, axis=-1)) * 2 / n
    amp[..., 0] /= 2
    if n % 2 == 0:
        amp[..., -1] /= 2
    return np.fft.rfftfreq(n, 1 / fs), amp


def envelope_spectrum(x, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the spectrum of the signal, skipping the envelope step."""
    x = np.asarray(x, dtype=float)
    return amplitude_spectrum(x - x.mean(axis=-1, keepdims=True), fs)
'''

# Every bin doubled, DC and Nyquist too: right for a pure sine, wrong for the DC and Nyquist bins.
# Caught by test_spectra (visible: DC is the mean; hidden: Nyquist).
_ALL_BINS_DOUBLED = '''
def amplitude_spectrum(x, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the one-sided amplitude spectrum (freqs, amp) along the last axis."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    return np.fft.rfftfreq(n, 1 / fs), np.abs(np.fft.rfft(x, axis=-1)) * 2 / n


def envelope_spectrum(x, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the amplitude spectrum of the mean-removed Hilbert envelope."""
    envelope = np.abs(hilbert(np.asarray(x, dtype=float), axis=-1))
    envelope = envelope - envelope.mean(axis=-1, keepdims=True)
    return amplitude_spectrum(envelope, fs)
'''

# The ball line taken at BSF instead of 2 x BSF. Caught by test_window_features (hidden: re-derived env_bsf).
_BALL_AT_BSF = _window_features(_MAX_IN_BAND, bsf='defect["BSF"]')

# The amplitude of the single nearest spectral line instead of the largest within ±tol: equal when the defect line
# falls on a bin (the visible demo), wrong when the real speed shifts it between bins.
# Caught by test_window_features (hidden: a line 4 Hz off the nominal BPFI, and tol=12).
_NEAREST_BIN = _window_features('''        return amp[:, np.argmin(np.abs(freqs - f0))]''')

# Every recording windowed at the 0 HP speed: the defect bands miss the 3 HP lines.
# Caught by test_feature_table (hidden: a 3 HP recording re-derived at its own speed).
_ONE_SPEED = _feature_table("1797 / 60")

# Shaft speed converted to rad/s (2 pi rpm / 60) instead of Hz. Caught by test_feature_table (hidden).
_RAD_PER_S = _feature_table('2 * np.pi * rec["rpm"] / 60')

# rpm passed where Hz is expected: every defect frequency 60 times too high, past Nyquist. Caught from
# test_feature_table on (the table cannot be built).
_RPM_AS_HZ = _feature_table('rec["rpm"]')

# The 48 kHz sampling rate of CWRU's other recordings: every frequency axis off by 4. Caught by test_feature_table.
_WRONG_FS = _feature_table('rec["rpm"] / 60', fs="48_000")

# The recordings' tables joined without ignore_index: every recording's rows are numbered from 0 again, so the split
# and the evaluation, which find rows by index, mix recordings up. Caught by test_feature_table (visible: the task
# asks for a unique row index, so the Check button says so before later cells fail for no clear reason).
_REPEATED_INDEX = _feature_table('rec["rpm"] / 60').replace("pd.concat(parts, ignore_index=True)", "pd.concat(parts)")

# Windows shuffled before the split: neighbouring windows of one recording land on both sides.
# Caught by test_split (visible: training windows must come before test windows).
_SHUFFLED_SPLIT = '''
from sklearn.model_selection import train_test_split


def assign_split(table: pd.DataFrame, test_frac: float = 0.3) -> pd.Series:
    """Return a stratified random split of the seen windows; unseen ones are test_unseen."""
    split = pd.Series("test_unseen", index=table.index)
    seen = table[table["seen"].astype(bool)]
    train_index, test_index = train_test_split(seen.index, test_size=test_frac, stratify=seen["recording"],
                                               random_state=SEED)
    split[train_index] = "train"
    split[test_index] = "test_seen"
    return split


split = assign_split(features)
'''

# Split per label (one seen recording per label here, so the real table looks right) with the count truncated.
# Caught by test_split (hidden: two recordings of one label, 9 and 11 windows).
_PER_LABEL_FLOOR = '''
def assign_split(table: pd.DataFrame, test_frac: float = 0.3) -> pd.Series:
    """Return train / test_seen per label by time, test_unseen for unseen recordings."""
    split = pd.Series("test_unseen", index=table.index)
    for _, group in table[table["seen"].astype(bool)].groupby("label"):
        ordered = group.sort_values("window")
        n_test = int(test_frac * len(ordered))
        split[ordered.index[: len(ordered) - n_test]] = "train"
        split[ordered.index[len(ordered) - n_test:]] = "test_seen"
    return split


split = assign_split(features)
'''

# The contiguous split applied to every recording: the early windows of the unseen conditions are trained on.
# Caught by test_split (visible: every window of an unseen recording is test_unseen) and test_model (hidden).
_UNSEEN_IN_TRAIN = '''
def assign_split(table: pd.DataFrame, test_frac: float = 0.3) -> pd.Series:
    """Return train for the early windows of every recording, test for the late ones."""
    by_recording = table.groupby("recording")["window"]
    n = by_recording.transform("size")
    position = by_recording.rank(method="first") - 1
    late = position >= n - np.round(test_frac * n)
    seen = table["seen"].astype(bool)
    return pd.Series(np.where(~late, "train", np.where(seen, "test_seen", "test_unseen")), index=table.index)


split = assign_split(features)
'''

# Standardised with a scaler fitted on every window (seen test and unseen conditions included), then a classifier
# fitted on the scaled training rows: the model has seen the test distribution. Caught by test_model (hidden refit).
_SCALER_ON_ALL = '''
from sklearn.preprocessing import StandardScaler

FEATURES = ["kurtosis", "crest", "env_bpfi", "env_bpfo", "env_bsf"]
scaler = StandardScaler().fit(features[FEATURES])
train = features[split == "train"]
seen_test = features[split == "test_seen"]
unseen_test = features[split == "test_unseen"]
clf = RandomForestClassifier(n_estimators=200, random_state=SEED)
clf.fit(scaler.transform(train[FEATURES]), train["label"])
y_pred_seen = clf.predict(scaler.transform(seen_test[FEATURES]))
seen_macro_f1 = f1_score(seen_test["label"], y_pred_seen, average="macro")
'''
_SCALED_TRANSFER = _transfer().replace("clf.predict(unseen_test[FEATURES])", "clf.predict(scaler.transform(unseen_test[FEATURES]))")

# Trained on every seen window, the seen-condition test windows included. Caught by test_model (visible partition).
_TRAIN_ON_ALL_SEEN = _model(_MODEL_FEATURES, _RF, train='features[features["seen"]]')

# Vibration level alone: perfect at the training condition, lost at the new load and size.
# Caught by test_transfer (visible: no better than rms alone; hidden: the worst unseen condition).
_RMS_ONLY = _model('["rms"]', _RF)

# Time-domain features only (no defect frequencies). Caught by test_transfer (unseen macro F1 bar).
_TIME_ONLY = _model('["rms", "kurtosis", "crest"]', _RF)

# The time position is used as an input. Caught by test_model (visible: allowed columns).
_WINDOW_AS_FEATURE = _model('["kurtosis", "crest", "env_bpfi", "env_bpfo", "env_bsf", "window"]', _RF)

# Confusion matrix in sklearn's default (alphabetical) label order, then named as CLASSES.
# Caught by test_transfer (hidden: recomputed with labels=CLASSES).
_ALPHABETICAL_CONFUSION = _transfer(confusion_labels="labels=sorted(CLASSES)")

# Weighted F1 over the labels sklearn finds (a "normal" prediction becomes a fourth class).
# Caught by test_transfer (hidden: macro over FAULTS, recomputed).
_WEIGHTED_F1 = _transfer(f1_args='average="weighted"')

# The rms baseline fitted on every window (unseen conditions included): it looks better than it is.
# Caught by test_transfer (hidden: the baseline refitted on the training windows).
_BASELINE_ON_ALL = _transfer(rms_fit='features[["rms"]], features["label"]')

# A time-only model whose unseen score is typed in to pass the visible bar. Caught by test_transfer (hidden).
_HARD_CODED = _transfer(tail="unseen_macro_f1 = 0.93  # from the visible test's bar\n")

# The feature table standardised over every window (unseen conditions included) before the split, as a copy or in
# place; k-NN on all six features. The refit on the scaled train agreed. test_model must catch both.
_TABLE_SCALED = '''
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

FEATURES = list(FEATURE_COLUMNS)
# k-NN needs features on one scale: standardise the feature table, then split it.
scaled = features.copy()
scaled[FEATURES] = StandardScaler().fit_transform(features[FEATURES])
train = scaled[split == "train"]
seen_test = scaled[split == "test_seen"]
unseen_test = scaled[split == "test_unseen"]
clf = KNeighborsClassifier(n_neighbors=5)
clf.fit(train[FEATURES], train["label"])
y_pred_seen = clf.predict(seen_test[FEATURES])
seen_macro_f1 = f1_score(seen_test["label"], y_pred_seen, average="macro")
'''
_TABLE_SCALED_IN_PLACE = _TABLE_SCALED.replace(
    '''scaled = features.copy()
scaled[FEATURES] = StandardScaler().fit_transform(features[FEATURES])
''', '''features[FEATURES] = StandardScaler().fit_transform(features[FEATURES])
scaled = features
''')

WRONG = {
    "feature table scaled over every window, then split": {"model": _TABLE_SCALED},
    "feature table scaled in place over every window": {"model": _TABLE_SCALED_IN_PLACE},
    "excess kurtosis": {"time_features": _EXCESS_KURTOSIS},
    "half-overlapping windows": {"segment": _HALF_OVERLAP},
    "inner and outer race swapped": {"defect_frequencies": _SWAPPED_RACES},
    "contact angle in degrees fed to cos": {"defect_frequencies": _DEGREES_IN_COS},
    "spectrum without Hilbert envelope": {"spectra": _NO_HILBERT},
    "DC and Nyquist bins doubled": {"spectra": _ALL_BINS_DOUBLED},
    "ball line at BSF, not 2 x BSF": {"window_features": _BALL_AT_BSF},
    "nearest spectral line instead of band maximum": {"window_features": _NEAREST_BIN},
    "one shaft speed for every recording": {"feature_table": _ONE_SPEED},
    "shaft speed in rad/s": {"feature_table": _RAD_PER_S},
    "rpm used as Hz": {"feature_table": _RPM_AS_HZ},
    "48 kHz sampling rate": {"feature_table": _WRONG_FS},
    "row index repeated per recording": {"feature_table": _REPEATED_INDEX},
    "shuffled window split": {"split": _SHUFFLED_SPLIT},
    "split per label, count truncated": {"split": _PER_LABEL_FLOOR},
    "unseen recordings in training": {"split": _UNSEEN_IN_TRAIN},
    "scaler fitted on every window": {"model": _SCALER_ON_ALL, "transfer": _SCALED_TRANSFER},
    "trained on every seen window": {"model": _TRAIN_ON_ALL_SEEN},
    "rms-only model": {"model": _RMS_ONLY},
    "time features only": {"model": _TIME_ONLY},
    "window index as a feature": {"model": _WINDOW_AS_FEATURE},
    "confusion in alphabetical order": {"transfer": _ALPHABETICAL_CONFUSION},
    "weighted F1 on unseen windows": {"transfer": _WEIGHTED_F1},
    "rms baseline fitted on every window": {"transfer": _BASELINE_ON_ALL},
    "time-only model, unseen score typed in": {"model": _TIME_ONLY, "transfer": _HARD_CODED},
}

# --- other correct answers ------------------------------------------------------------------------------------

# Other correct implementations of every function: strided windows, scipy's kurtosis with fisher=False, scipy.fft,
# a loop over the bands, a split by sorting and counting, and a confusion matrix from pd.crosstab.
_OTHER_IMPLEMENTATIONS = {
    "segment": '''
def segment(signal, window: int) -> np.ndarray:
    """Cut a 1-D signal into consecutive non-overlapping windows, dropping the incomplete tail."""
    signal = np.asarray(signal)
    if len(signal) < window:
        return np.empty((0, window), dtype=signal.dtype)
    return np.lib.stride_tricks.sliding_window_view(signal, window)[::window].copy()
''',
    "time_features": _TIME_FEATURES_HEAD + '''

def kurtosis(x) -> np.ndarray:
    """Return the Pearson kurtosis along the last axis."""
    from scipy import stats
    return stats.kurtosis(np.asarray(x, dtype=float), axis=-1, fisher=False, bias=True)
''' + _CREST,
    "spectra": '''
import scipy.fft


def amplitude_spectrum(x, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the one-sided amplitude spectrum (freqs, amp) along the last axis."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    amp = np.abs(scipy.fft.rfft(x, axis=-1)) / n
    last = n // 2 if n % 2 == 0 else n // 2 + 1
    amp[..., 1:last] *= 2  # every bin but DC (and Nyquist for an even length) has a negative twin
    return scipy.fft.rfftfreq(n, d=1.0 / fs), amp


def envelope_spectrum(x, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the amplitude spectrum of the mean-removed Hilbert envelope."""
    envelope = np.abs(hilbert(np.asarray(x, dtype=float)))
    return amplitude_spectrum(envelope - np.mean(envelope, axis=-1, keepdims=True), fs)
''',
    "window_features": '''
def window_features(windows: np.ndarray, fs: float, shaft_hz: float, tol: float = 6.0) -> pd.DataFrame:
    """Return one row of time and envelope features per window."""
    windows = np.atleast_2d(np.asarray(windows, dtype=float))
    d = bearing_frequencies(shaft_hz, **BEARING)
    freqs, amp = envelope_spectrum(windows, fs)
    table = pd.DataFrame({"rms": rms(windows), "kurtosis": kurtosis(windows), "crest": crest_factor(windows)})
    for column, f0 in (("env_bpfi", d["BPFI"]), ("env_bpfo", d["BPFO"]), ("env_bsf", 2 * d["BSF"])):
        lo, hi = np.searchsorted(freqs, f0 - tol, side="left"), np.searchsorted(freqs, f0 + tol, side="right")
        table[column] = amp[:, lo:hi].max(axis=1)
    return table
''',
    "feature_table": '''
rows = []
for rec in RECORDINGS.to_dict("records"):
    table = window_features(segment(signals[rec["recording"]], WINDOW), FS, shaft_hz=rec["rpm"] / 60.0)
    table = table.assign(**{k: rec[k] for k in ["recording", "label", "load_hp", "fault_in", "rpm", "seen"]})
    table["window"] = range(len(table))
    rows.append(table)
features = pd.concat(rows).reset_index(drop=True)
''',
    "split": '''
def assign_split(table: pd.DataFrame, test_frac: float = 0.3) -> pd.Series:
    """Return "train", "test_seen" or "test_unseen" for every window of the table."""
    result = pd.Series("test_unseen", index=table.index, dtype=object)
    ordered = table[table["seen"] == True].sort_values(["recording", "window"])  # noqa: E712
    for _, group in ordered.groupby("recording", sort=False):
        n_test = int(round(test_frac * len(group)))
        result[group.index] = ["train"] * (len(group) - n_test) + ["test_seen"] * n_test
    return result


split = assign_split(features)
''',
    "transfer": '''
y_pred_unseen = clf.predict(unseen_test[FEATURES])
unseen_macro_f1 = float(np.mean(f1_score(unseen_test["label"], y_pred_unseen, labels=FAULTS, average=None)))
confusion = pd.crosstab(pd.Categorical(unseen_test["label"], categories=CLASSES),
                        pd.Categorical(y_pred_unseen, categories=CLASSES), dropna=False)
confusion = confusion.reindex(index=CLASSES, columns=CLASSES, fill_value=0)
confusion.index, confusion.columns = list(CLASSES), list(CLASSES)
baseline = clone(clf)
baseline.fit(train[["rms"]], train["label"])
rms_unseen_f1 = f1_score(unseen_test["label"], baseline.predict(unseen_test[["rms"]]), labels=FAULTS, average="macro")
''',
}

RIGHT = {
    "other correct implementations": _OTHER_IMPLEMENTATIONS,
    "extra trees on the envelope features": {"model": _model(
        '["env_bpfi", "env_bpfo", "env_bsf"]', "ExtraTreesClassifier(n_estimators=200, random_state=SEED)",
        prelude="from sklearn.ensemble import ExtraTreesClassifier")},
    "scaled k-nearest neighbours on all six features": {"model": _model(
        "list(FEATURE_COLUMNS)", "make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))",
        prelude="from sklearn.neighbors import KNeighborsClassifier\nfrom sklearn.pipeline import make_pipeline\n"
                "from sklearn.preprocessing import StandardScaler")},
    "logistic regression on log amplitudes": {"model": _model(
        '["rms", "env_bpfi", "env_bpfo", "env_bsf"]',
        "make_pipeline(FunctionTransformer(np.log), StandardScaler(), LogisticRegression(max_iter=2000))",
        prelude="from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import make_pipeline\n"
                "from sklearn.preprocessing import FunctionTransformer, StandardScaler")},
    "random forest on all six features": {"model": _model("FEATURE_COLUMNS", _RF)},
}
