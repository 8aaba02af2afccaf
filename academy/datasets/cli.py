"""The `datasets` command group: list, verify and fetch the catalogued datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app

from .catalogue import Dataset, load_catalogue
from .fetch import DatasetError, download_dataset, import_dataset, verify_dataset

DATA_DIR_HELP = "Data directory laid out as <dir>/<dataset id>/<files> (default: $ACADEMY_DATA_DIR, else var/data)."


def _chosen(only: tuple[str, ...]) -> list[Dataset]:
    """Return the catalogued datasets named by --only (all when none is named)."""
    catalogue = load_catalogue()
    unknown = [i for i in only if i not in catalogue]
    if unknown:
        raise click.BadParameter(f"unknown dataset id(s): {', '.join(unknown)}; known: {', '.join(catalogue)}",
                                 param_hint="--only")
    return [catalogue[i] for i in (only or catalogue)]


def _progress(ds: Dataset, every: int = 250) -> Callable[[str], None]:
    """Return a callback that reports every `every` downloaded files, so long fetches show life."""
    done = 0

    def report(path: str) -> None:
        nonlocal done
        done += 1
        if done % every == 0:
            click.echo(f"...  {ds.id}: {done}/{len(ds.files)} files")

    return report


def _data_dir(value: Path | None) -> Path:
    return value if value is not None else Path(current_app.config["DATA_DIR"])


@click.group("datasets")
def datasets() -> None:
    """Manage the real datasets the labs read (데이터셋 관리)."""


@datasets.command("list")
def list_command() -> None:
    """List the catalogued datasets with size, licence and authority."""
    for ds in load_catalogue().values():
        kind = "simulated" if ds.simulated else "real"
        click.echo(f"{ds.id:26} {len(ds.files):5} files {ds.total_size / 1e6:7.1f} MB  {kind:9}  {ds.name}")
        click.echo(f"{'':26} licence: {ds.licence}")
        click.echo(f"{'':26} authority: {ds.authority} <{ds.homepage}>")


@datasets.command("verify")
@click.option("--only", multiple=True, metavar="ID", help="Check only this dataset (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
def verify_command(only: tuple[str, ...], data_dir: Path | None) -> None:
    """Check every installed file against its catalogued size and sha256 (검증)."""
    root = _data_dir(data_dir)
    bad = 0
    for ds in _chosen(only):
        problems = verify_dataset(ds, root)
        if problems:
            bad += 1
            click.echo(f"FAIL {ds.id}: {len(problems)} problem(s)")
            for line in problems[:20]:
                click.echo(f"  {line}")
            if len(problems) > 20:
                click.echo(f"  ... and {len(problems) - 20} more")
        else:
            click.echo(f"ok   {ds.id} ({len(ds.files)} files)")
    if bad:
        raise click.ClickException(f"{bad} dataset(s) failed verification in {root}")


@datasets.command("fetch")
@click.option("--from", "source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Import from a local folder laid out as <dir>/<dataset id>/<files> instead of downloading.")
@click.option("--only", multiple=True, metavar="ID", help="Fetch only this dataset (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=DATA_DIR_HELP)
@click.option("--force", is_flag=True, help="Replace datasets that are already installed and verify.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait on each network read.")
def fetch_command(source: Path | None, only: tuple[str, ...], data_dir: Path | None, force: bool,
                  timeout: float) -> None:
    """Download (or import) datasets, verify every checksum, then move each into place (가져오기)."""
    root = _data_dir(data_dir)
    failed = []
    for ds in _chosen(only):
        if not force and (root / ds.id).is_dir() and not verify_dataset(ds, root):
            click.echo(f"ok   {ds.id}: already installed and verified")
            continue
        try:
            if source is not None:
                import_dataset(ds, source, root)
            else:
                click.echo(f"...  {ds.id}: downloading {len(ds.files)} file(s) from {ds.download}")
                download_dataset(ds, root, timeout=timeout, progress=_progress(ds))
        except DatasetError as exc:
            failed.append(ds.id)
            click.echo(f"FAIL {ds.id}: {exc}", err=True)
            continue
        click.echo(f"done {ds.id} -> {root / ds.id}")
    if failed:
        raise click.ClickException(f"not installed: {', '.join(failed)} (nothing partial was left in {root})")
