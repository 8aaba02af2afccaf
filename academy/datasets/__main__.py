"""Run the datasets commands: python -m academy.datasets fetch --from ../shared/datasets."""

from .cli import datasets

datasets(prog_name="python -m academy.datasets")
