"""Answers to lab 3 that the autograder must tell apart.

WRONG: realistic mistakes; each must score strictly between 0 and full automatic marks, losing points in the
cell named in its comment. RIGHT: different but correct answers (another network, another training loop, other
correct code); each must keep full automatic marks.
"""

# --- Wrong answers -------------------------------------------------------------------------------------------

# test_class_of (hidden): "rolled-in_scale_41" becomes "rolled-in".
_FIRST_UNDERSCORE = '''
def class_of(path) -> str:
    """Return the part of the file name before the first underscore."""
    return pathlib.Path(path).stem.split("_")[0]
'''

# test_load_images (hidden): names sorted, but labels numbered in the order the folder listing gave the classes.
_LABELS_IN_LISTING_ORDER = '''
def load_images(image_dir, per_class: int, size: int, seed: int):
    """Load `per_class` random images of every class as (X, y, classes)."""
    by_class = {}
    for path in pathlib.Path(image_dir).glob("*.jpg"):
        by_class.setdefault(class_of(path), []).append(path)
    classes = sorted(by_class)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, (name, paths) in enumerate(by_class.items()):
        paths = sorted(paths)
        for i in sorted(rng.choice(len(paths), size=per_class, replace=False)):
            with Image.open(paths[i]) as img:
                small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            images.append(np.asarray(small, dtype=np.float32) / 255.0)
            labels.append(label)
    order = np.argsort(labels, kind="stable")
    X = np.stack(images)[order][:, None, :, :]
    y = np.array(labels, dtype=np.int64)[order]
    return X, y, classes
'''

# test_load_images (hidden): rng.choice draws with replacement unless told otherwise.
_WITH_REPLACEMENT = '''
def load_images(image_dir, per_class: int, size: int, seed: int):
    """Load `per_class` random images of every class as (X, y, classes)."""
    by_class = {}
    for path in sorted(pathlib.Path(image_dir).glob("*.jpg")):
        by_class.setdefault(class_of(path), []).append(path)
    classes = sorted(by_class)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in rng.choice(by_class[name], size=per_class):
            with Image.open(path) as img:
                small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            images.append(np.asarray(small, dtype=np.float32) / 255.0)
            labels.append(label)
    return np.stack(images)[:, None, :, :], np.array(labels, dtype=np.int64), classes
'''

# The model answer's load_images, for the variants that change one step of it.
_LOAD_IMAGES = '''
def load_images(image_dir, per_class: int, size: int, seed: int):
    """Load `per_class` random images of every class as (X, y, classes)."""
    by_class = {}
    for path in sorted(pathlib.Path(image_dir).glob("*.jpg")):
        by_class.setdefault(class_of(path), []).append(path)
    classes = sorted(by_class)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(classes):
        paths = by_class[name]
        for i in sorted(rng.choice(len(paths), size=per_class, replace=False)):
            with Image.open(paths[i]) as img:
                small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            images.append(np.asarray(small, dtype=np.float32) / 255.0)
            labels.append(label)
    return np.stack(images)[:, None, :, :], np.array(labels, dtype=np.int64), classes
'''

# test_load_images (hidden): the notebook-wide SEED instead of the seed argument.
_SEED_ARGUMENT_IGNORED = _LOAD_IMAGES.replace("default_rng(seed)", "default_rng(SEED)")

# test_load_images (hidden): "scale to [0, 1]" read as stretching every image to its own darkest and brightest pixel.
_PER_IMAGE_MIN_MAX = _LOAD_IMAGES.replace(
    '''                small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            images.append(np.asarray(small, dtype=np.float32) / 255.0)''',
    "                small = np.asarray(img.convert(\"L\").resize((size, size), Image.Resampling.BILINEAR),"
    " dtype=np.float32)\n            images.append((small - small.min()) / (small.max() - small.min()))")

# test_split (visible): every image is also a training image.
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

# test_split (hidden): one shuffle of all images; class shares in the test set drift.
_UNSTRATIFIED = '''
def stratified_split(y, test_fraction: float, seed: int):
    """Shuffle all images and cut off the test fraction."""
    idx = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    return np.sort(idx[n_test:]), np.sort(idx[:n_test])
'''

# test_split (hidden): int() truncates; agrees with round() only when the fraction divides evenly.
_FLOOR_NOT_ROUND = '''
def stratified_split(y, test_fraction: float, seed: int):
    """Return (train_idx, test_idx) with the same class shares in both parts."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(len(idx) * test_fraction)
        test_idx.extend(idx[:n_test])
        train_idx.extend(idx[n_test:])
    return np.sort(np.array(train_idx, dtype=np.int64)), np.sort(np.array(test_idx, dtype=np.int64))
'''

# test_split (hidden): the notebook's 0.25 written in; the test_fraction argument is never applied.
_FRACTION_HARD_CODED = '''
def stratified_split(y, test_fraction: float, seed: int):
    """Return (train_idx, test_idx) with a quarter of every class held out."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(len(idx) * 0.25))
        test_idx.extend(idx[:n_test])
        train_idx.extend(idx[n_test:])
    return np.sort(np.array(train_idx, dtype=np.int64)), np.sort(np.array(test_idx, dtype=np.int64))
'''

# test_train_stats (hidden): scaling statistics fitted on test images too (leakage).
_STATS_FROM_ALL_IMAGES = '''
def train_stats(X, train_idx):
    """Return (mean, std) over every pixel "of the dataset"."""
    return float(X.mean()), float(X.std())
'''

# test_train_stats (hidden): the variance returned as the spread.
_STATS_VARIANCE = '''
def train_stats(X, train_idx):
    """Return (mean, spread) over every pixel of the training images."""
    pixels = X[train_idx]
    return float(pixels.mean()), float(pixels.var())
'''

# test_model_shape (hidden): softmax in forward, then cross-entropy applies it a second time.
_SOFTMAX_IN_FORWARD = '''
class SmallCNN(nn.Module):
    """Classify a 1-channel image into `n_classes` defect types, returning probabilities."""

    def __init__(self, n_classes: int = 6):
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.features = nn.Sequential(
            *block(1, 8), nn.MaxPool2d(2),
            *block(8, 16), nn.MaxPool2d(2),
            *block(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(32, n_classes)

    def forward(self, x):
        return torch.softmax(self.head(self.features(x)), dim=1)
'''

# test_accuracy (hidden): an activation after the last layer of the wider network of RIGHT below, trained with its
# DataLoader loop (added at the end of the file). The scores are no longer logits (never negative, or squeezed into
# (0, 1) or (-1, 1)), yet the loss still falls and the test accuracy reaches 0.73-0.85, above the bar.
_WIDER_HEAD_TEMPLATE = '''
class SmallCNN(nn.Module):
    """Classify a 1-channel image into `n_classes` defect types."""

    def __init__(self, n_classes: int = 6):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Dropout(0.2), nn.Linear(32, n_classes), @HEAD@,
        )

    def forward(self, x):
        return self.net(x)
'''
_RELU_HEAD = _WIDER_HEAD_TEMPLATE.replace("@HEAD@", "nn.ReLU()")
_SIGMOID_HEAD = _WIDER_HEAD_TEMPLATE.replace("@HEAD@", "nn.Sigmoid()")
_TANH_HEAD = _WIDER_HEAD_TEMPLATE.replace("@HEAD@", "nn.Tanh()")

_TRAIN_TEMPLATE = '''
def train_model(model, X_train, y_train, epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0):
    """Train with Adam and cross-entropy; return the mean training loss of every epoch."""
    model.to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    X_t, y_t = torch.from_numpy(X_train), torch.from_numpy(y_train)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        model.train()
        @ORDER@
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            xb, yb = X_t[batch].to(DEVICE), y_t[batch].to(DEVICE)
            @ZERO_GRAD@
            loss = @LOSS@
            loss.backward()
            optimizer.step()
            total += @ACCUMULATE@
        losses.append(@EPOCH_LOSS@)
    return losses
'''


def _train(order="order = torch.randperm(len(y_t), generator=generator)", zero_grad="optimizer.zero_grad()",
           loss="nn.functional.cross_entropy(model(xb), yb)", accumulate="loss.item() * len(batch)",
           epoch_loss="total / len(order)"):
    """Return the model answer's train_model with one part replaced."""
    return (_TRAIN_TEMPLATE.replace("@ORDER@", order).replace("@ZERO_GRAD@", zero_grad).replace("@LOSS@", loss)
            .replace("@ACCUMULATE@", accumulate).replace("@EPOCH_LOSS@", epoch_loss))


# test_training (hidden Adam reference): gradients pile up from batch to batch.
_NO_ZERO_GRAD = _train(zero_grad="pass  # gradients are reset by backward(), surely")
# test_training (hidden): the sum of batch losses, not a mean.
_LOSS_SUMMED = _train(accumulate="loss.item()", epoch_loss="total")
# test_training (hidden): batches in class order every epoch; the seed argument never used.
_NO_SHUFFLE = _train(order="order = torch.arange(len(y_t))")
# test_training (hidden Adam replay of several batches): gradients pile up over each epoch's batches.
_ZERO_GRAD_PER_EPOCH = _train(order="optimizer.zero_grad()  # once per epoch\n"
                                    "        order = torch.randperm(len(y_t), generator=generator)",
                              zero_grad="pass  # reset at the start of the epoch")
# test_training (hidden Adam replay of several batches): a fresh Adam every epoch forgets its moments.
_ADAM_PER_EPOCH = _train(order="optimizer = torch.optim.Adam(model.parameters(), lr=lr)  # fresh every epoch\n"
                               "        order = torch.randperm(len(y_t), generator=generator)")
# test_training (hidden, probe handed over in evaluation mode): model.train() never called, so a model that went
# through predict trains with frozen BatchNorm statistics and no dropout.
_NO_TRAIN_MODE = _train().replace("        model.train()\n", "")
# test_training (hidden): the last batch's loss reported as the epoch's loss.
_LAST_BATCH_LOSS = _train(epoch_loss="loss.item()")
# test_training (hidden): one shuffle before training, the same order every epoch.
_SHUFFLED_ONCE = """
def train_model(model, X_train, y_train, epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0):
    \"\"\"Train with Adam and cross-entropy; return the mean training loss of every epoch.\"\"\"
    model.to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    X_t, y_t = torch.from_numpy(X_train), torch.from_numpy(y_train)
    order = torch.randperm(len(y_t), generator=torch.Generator().manual_seed(seed))  # shuffled once
    losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            xb, yb = X_t[batch].to(DEVICE), y_t[batch].to(DEVICE)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(order))
    return losses
"""
# test_training (hidden Adam reference): NLL loss on raw scores, without log-softmax.
_NLL_ON_LOGITS = _train(loss="nn.functional.nll_loss(model(xb), yb)")

# test_accuracy (hidden): BatchNorm keeps using the statistics of each prediction batch.
_PREDICT_WITHOUT_EVAL = '''
def predict(model, X, batch_size: int = 128):
    """Return the predicted class index of every image in X."""
    model.to(DEVICE)
    preds = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = torch.from_numpy(X[start:start + batch_size]).to(DEVICE)
            preds.append(model(xb).argmax(dim=1).cpu().numpy())
    return np.concatenate(preds)
'''

# test_confusion (visible): rows are the predictions.
_TRANSPOSED_CONFUSION = '''
def confusion_matrix(y_true, y_pred, n_classes: int):
    """Count images with the predicted class as the row (axes swapped)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        cm[p, t] += 1
    return cm
'''

# test_confusion (visible on the notebook, hidden probe): fancy-index += counts a repeated pair only once.
_BUFFERED_INCREMENT = '''
def confusion_matrix(y_true, y_pred, n_classes: int):
    """Count images by true class (row) and predicted class (column)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    cm[np.asarray(y_true), np.asarray(y_pred)] += 1
    return cm
'''

# test_confusion (hidden): size taken from the labels seen, not from n_classes.
_SIZE_FROM_DATA = '''
def confusion_matrix(y_true, y_pred, n_classes: int):
    """Count images by true class (row) and predicted class (column)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = int(max(y_true.max(), y_pred.max())) + 1
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm
'''

WRONG = {
    "class name cut at the first underscore": {"class_of": _FIRST_UNDERSCORE},
    "labels numbered in folder-listing order": {"load_images": _LABELS_IN_LISTING_ORDER},
    "images drawn with replacement": {"load_images": _WITH_REPLACEMENT},
    "seed argument ignored when loading": {"load_images": _SEED_ARGUMENT_IGNORED},
    "test images also used for training": {"stratified_split": _TRAIN_ON_EVERYTHING},
    "split not stratified": {"stratified_split": _UNSTRATIFIED},
    "test count truncated instead of rounded": {"stratified_split": _FLOOR_NOT_ROUND},
    "test fraction hard-coded": {"stratified_split": _FRACTION_HARD_CODED},
    "scaling statistics from every image": {"train_stats": _STATS_FROM_ALL_IMAGES},
    "softmax inside the network": {"small_cnn": _SOFTMAX_IN_FORWARD},
    "zero_grad forgotten": {"train_model": _NO_ZERO_GRAD},
    "epoch loss summed": {"train_model": _LOSS_SUMMED},
    "no shuffling": {"train_model": _NO_SHUFFLE},
    "shuffled once for all epochs": {"train_model": _SHUFFLED_ONCE},
    "NLL loss on raw scores": {"train_model": _NLL_ON_LOGITS},
    "predict without eval mode": {"predict": _PREDICT_WITHOUT_EVAL},
    "confusion matrix with swapped axes": {"confusion": _TRANSPOSED_CONFUSION},
    "confusion matrix counts repeated pairs once": {"confusion": _BUFFERED_INCREMENT},
    "confusion matrix sized from the data": {"confusion": _SIZE_FROM_DATA},
    "every image stretched to its own min and max": {"load_images": _PER_IMAGE_MIN_MAX},
    "variance returned for the std": {"train_stats": _STATS_VARIANCE},
    "ReLU after the last layer": {"small_cnn": _RELU_HEAD},
    "sigmoid after the last layer": {"small_cnn": _SIGMOID_HEAD},
    "tanh after the last layer": {"small_cnn": _TANH_HEAD},
    "zero_grad once per epoch": {"train_model": _ZERO_GRAD_PER_EPOCH},
    "a fresh Adam every epoch": {"train_model": _ADAM_PER_EPOCH},
    "model never put in training mode": {"train_model": _NO_TRAIN_MODE},
    "last batch's loss as the epoch loss": {"train_model": _LAST_BATCH_LOSS},
}

# The test cell each wrong answer must lose its points in (it may lose others too, as a consequence).
LOSES = {
    "class name cut at the first underscore": "test_class_of",
    "labels numbered in folder-listing order": "test_load_images",
    "images drawn with replacement": "test_load_images",
    "seed argument ignored when loading": "test_load_images",
    "test images also used for training": "test_split",
    "split not stratified": "test_split",
    "test count truncated instead of rounded": "test_split",
    "test fraction hard-coded": "test_split",
    "scaling statistics from every image": "test_train_stats",
    "softmax inside the network": "test_model_shape",
    "zero_grad forgotten": "test_training",
    "epoch loss summed": "test_training",
    "no shuffling": "test_training",
    "shuffled once for all epochs": "test_training",
    "NLL loss on raw scores": "test_training",
    "predict without eval mode": "test_accuracy",
    "confusion matrix with swapped axes": "test_confusion",
    "confusion matrix counts repeated pairs once": "test_confusion",
    "confusion matrix sized from the data": "test_confusion",
    "every image stretched to its own min and max": "test_load_images",
    "variance returned for the std": "test_train_stats",
    "ReLU after the last layer": "test_accuracy",
    "sigmoid after the last layer": "test_accuracy",
    "tanh after the last layer": "test_accuracy",
    "zero_grad once per epoch": "test_training",
    "a fresh Adam every epoch": "test_training",
    "model never put in training mode": "test_training",
    "last batch's loss as the epoch loss": "test_training",
}

# --- Different but correct answers ---------------------------------------------------------------------------

# Another network (5x5 first layer, wider, global max pooling, dropout) trained with a DataLoader, whose epoch loss
# is the mean of the batch means; predictions through softmax.
_WIDER_CNN = '''
class SmallCNN(nn.Module):
    """Classify a 1-channel image into `n_classes` defect types."""

    def __init__(self, n_classes: int = 6):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Dropout(0.2), nn.Linear(32, n_classes),
        )

    def forward(self, x):
        return self.net(x)
'''

_TRAIN_DATALOADER = '''
def train_model(model, X_train, y_train, epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0):
    """Train with Adam and cross-entropy through a DataLoader; return the mean batch loss of every epoch."""
    from torch.utils.data import DataLoader, TensorDataset

    model = model.to(DEVICE)
    loader = DataLoader(TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train)), batch_size=batch_size,
                        shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    history = []
    for _ in range(epochs):
        model.train()
        batch_losses = []
        for xb, yb in loader:
            xb, yb = xb.to(DEVICE), yb.to(DEVICE)
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        history.append(sum(batch_losses) / len(batch_losses))
    return history
'''

_PREDICT_SOFTMAX = '''
def predict(model, X, batch_size: int = 128):
    """Return the most probable class of every image in X."""
    model = model.to(DEVICE).eval()
    out = []
    with torch.inference_mode():
        for chunk in np.array_split(X, max(1, int(np.ceil(len(X) / batch_size)))):
            probs = torch.softmax(model(torch.as_tensor(chunk, device=DEVICE)), dim=1)
            out.append(probs.argmax(dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.int64)
'''

# Other correct code for every data step.
_CLASS_OF_REGEX = r'''
def class_of(path) -> str:
    """Strip the trailing _<number> from the file name."""
    import re

    return re.sub(r"_\d+$", "", os.path.splitext(os.path.basename(str(path)))[0])
'''

_LOAD_PERMUTATION = '''
def load_images(image_dir, per_class: int, size: int, seed: int):
    """Load `per_class` random images of every class as (X, y, classes)."""
    paths = sorted(pathlib.Path(image_dir).glob("*.jpg"))
    classes = sorted({class_of(p) for p in paths})
    rng = np.random.default_rng(seed)
    X = np.empty((len(classes) * per_class, 1, size, size), dtype=np.float32)
    y = np.empty(len(classes) * per_class, dtype=np.int64)
    row = 0
    for name in classes:
        own = [p for p in paths if class_of(p) == name]
        for k in rng.permutation(len(own))[:per_class]:
            img = Image.open(own[k]).convert("L").resize((size, size), resample=Image.BILINEAR)
            X[row, 0] = np.array(img, dtype=np.float32) / 255
            y[row] = classes.index(name)
            row += 1
    return X, y, classes
'''

_SPLIT_CHOICE = '''
def stratified_split(y, test_fraction: float, seed: int):
    """Draw round(n * fraction) test images inside every class."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(y), dtype=bool)
    for label in sorted(set(y.tolist())):
        members = np.where(y == label)[0]
        is_test[rng.choice(members, size=int(np.rint(len(members) * test_fraction)), replace=False)] = True
    return np.where(~is_test)[0], np.where(is_test)[0]
'''

_STATS_TORCH = '''
def train_stats(X, train_idx):
    """Mean and (unbiased) std of the training pixels."""
    pixels = torch.from_numpy(X[np.asarray(train_idx)]).double()
    return pixels.mean().item(), pixels.std().item()
'''

_CONFUSION_BINCOUNT = '''
def confusion_matrix(y_true, y_pred, n_classes: int):
    """Count (true, predicted) pairs with one bincount."""
    codes = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(codes, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
'''

# The model answer's network written another way, returning log-probabilities (logits shifted per image: the
# cross-entropy and the argmax are unchanged), trained with one NumPy generator, a summed loss divided by the batch
# size, zero_grad() after the step and model.train() once before training.
_LOG_SOFTMAX_CNN = '''
class SmallCNN(nn.Module):
    """Classify a 1-channel image into `n_classes` defect types; returns log-probabilities (logits up to a shift)."""

    def __init__(self, n_classes: int = 6):
        super().__init__()
        layers, c_in = [], 1
        for i, c_out in enumerate((8, 16, 32)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(32, n_classes)

    def forward(self, x):
        return nn.functional.log_softmax(self.fc(self.body(x).mean(dim=(2, 3))), dim=1)
'''

_TRAIN_NUMPY_ORDER = '''
def train_model(model, X_train, y_train, epochs: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0):
    """Adam on the mean cross-entropy; one NumPy generator gives every epoch's order."""
    model = model.to(DEVICE)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    rng = np.random.default_rng(seed)
    n = len(y_train)
    history = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        running = 0.0
        for batch in np.array_split(order, int(np.ceil(n / batch_size))):
            xb = torch.as_tensor(X_train[batch], device=DEVICE)
            yb = torch.as_tensor(y_train[batch], device=DEVICE)
            loss_sum = criterion(model(xb), yb)
            (loss_sum / len(batch)).backward()
            optimizer.step()
            optimizer.zero_grad()
            running += loss_sum.item()
        history.append(running / n)
    return history
'''

RIGHT = {
    "wider network, DataLoader training, softmax predictions": {
        "small_cnn": _WIDER_CNN,
        "train_model": _TRAIN_DATALOADER,
        "predict": _PREDICT_SOFTMAX,
    },
    "other correct code for every data step": {
        "class_of": _CLASS_OF_REGEX,
        "load_images": _LOAD_PERMUTATION,
        "stratified_split": _SPLIT_CHOICE,
        "train_stats": _STATS_TORCH,
        "confusion": _CONFUSION_BINCOUNT,
    },
    "log-softmax network, NumPy order, summed loss over the batch size": {
        "small_cnn": _LOG_SOFTMAX_CNN,
        "train_model": _TRAIN_NUMPY_ORDER,
    },
}

# The answers with an activation after the last layer train with the DataLoader loop above (with the model answer's
# loop the ReLU version would also fall below the accuracy bar, and show nothing more).
for _label in ("ReLU after the last layer", "sigmoid after the last layer", "tanh after the last layer"):
    WRONG[_label]["train_model"] = _TRAIN_DATALOADER
