"""Real datasets for the labs: the catalogue, and fetching/verifying them into the data directory."""

from .catalogue import DataFile, Dataset, load_catalogue
from .fetch import ChecksumMismatch, DatasetError, MissingFile, download_dataset, import_dataset, verify_dataset

__all__ = [
    "ChecksumMismatch",
    "DataFile",
    "Dataset",
    "DatasetError",
    "MissingFile",
    "download_dataset",
    "import_dataset",
    "load_catalogue",
    "verify_dataset",
]
