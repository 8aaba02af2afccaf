"""Realistic wrong answers to lab 5; each must score strictly between 0 and full automatic marks."""

# scipy.stats.kurtosis defaults to the excess (Fisher) definition, so Gaussian noise gives 0 instead of 3.
_EXCESS_KURTOSIS = '''
from scipy import stats


def rms(x) -> np.ndarray:
    """Return the root-mean-square along the last axis."""
    return np.sqrt(np.mean(np.square(np.asarray(x, dtype=float)), axis=-1))


def kurtosis(x) -> np.ndarray:
    """Return the kurtosis along the last axis, as scipy gives it by default."""
    return stats.kurtosis(np.asarray(x, dtype=float), axis=-1)


def crest_factor(x) -> np.ndarray:
    """Return the peak absolute value over the RMS along the last axis."""
    return np.max(np.abs(np.asarray(x, dtype=float)), axis=-1) / rms(x)
'''

# The inner and outer race formulas mixed up: the sign of the d/D term is swapped.
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

# The "envelope" spectrum is just the raw spectrum: no Hilbert transform, so the 3 kHz ringing dominates.
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

# Windows shuffled before the split: neighbouring windows of one recording land on both sides.
_SHUFFLED_SPLIT = '''
from sklearn.model_selection import train_test_split


def contiguous_split(table: pd.DataFrame, test_frac: float = 0.3) -> pd.Series:
    """Return True for a stratified random test_frac of the windows."""
    _, test_index = train_test_split(table.index, test_size=test_frac, stratify=table["label"], random_state=SEED)
    return pd.Series(table.index.isin(test_index), index=table.index)


is_test = contiguous_split(features)
'''

# The time position is used as an input: normal has 119 windows, faults 59, so "window > 58" means normal.
_WINDOW_AS_FEATURE = '''
FEATURES = ["rms", "kurtosis", "crest", "env_bpfi", "env_bpfo", "env_bsf", "window"]
train, test = features[~is_test], features[is_test]
clf = RandomForestClassifier(n_estimators=200, random_state=SEED)
clf.fit(train[FEATURES], train["label"])
y_pred = clf.predict(test[FEATURES])
test_accuracy = accuracy_score(test["label"], y_pred)
test_macro_f1 = f1_score(test["label"], y_pred, average="macro")
confusion = pd.DataFrame(confusion_matrix(test["label"], y_pred, labels=CLASSES), index=CLASSES, columns=CLASSES)
'''

WRONG = {
    "excess kurtosis": {"time_features": _EXCESS_KURTOSIS},
    "inner and outer race swapped": {"defect_frequencies": _SWAPPED_RACES},
    "spectrum without Hilbert envelope": {"spectra": _NO_HILBERT},
    "shuffled window split": {"split": _SHUFFLED_SPLIT},
    "window index as a feature": {"model": _WINDOW_AS_FEATURE},
}
