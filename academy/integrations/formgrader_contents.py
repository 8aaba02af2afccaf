"""The formgrader's Jupyter file API, read-only: instructors read course files there, they never write them.

The formgrader's server root is the course folder: its source notebooks (tests and solutions the worker
runs) and its nbgrader_config.py. Grading writes only to the gradebook, through nbgrader's own handlers, so
every way the contents API could change a file (save, upload, new, copy, rename, delete, checkpoints) is
refused with 403, whatever the OS user may write.
"""
from __future__ import annotations

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError

REFUSAL = "채점 화면에서는 과정 파일을 바꿀 수 없습니다 / The formgrader's course files are read-only"


class ReadOnlyContentsManager(AsyncLargeFileManager):
    """Serve the course folder for reading; refuse every change."""

    def _refuse(self) -> None:
        raise HTTPError(403, REFUSAL)

    async def save(self, model, path=""):
        self._refuse()

    async def delete_file(self, path):
        self._refuse()

    async def rename_file(self, old_path, new_path):
        self._refuse()

    async def new(self, model=None, path=""):
        self._refuse()

    async def new_untitled(self, path="", type="", ext=""):  # noqa: A002 - jupyter_server's signature
        self._refuse()

    async def copy(self, from_path, to_path=None):
        self._refuse()

    async def create_checkpoint(self, path):
        self._refuse()

    async def restore_checkpoint(self, checkpoint_id, path):
        self._refuse()

    async def delete_checkpoint(self, checkpoint_id, path):
        self._refuse()

    async def trust_notebook(self, path):
        self._refuse()
