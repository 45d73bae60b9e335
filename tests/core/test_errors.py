"""Entry points end a user's problem in one line: a full disk included (CI once died of one, with a traceback)."""

from __future__ import annotations

import errno

import pytest

from visionops.core.errors import exits_cleanly


def test_a_full_disk_is_one_line_naming_the_file_and_what_to_do(capsys):
    @exits_cleanly
    def stage() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/p/reports/index.html")

    with pytest.raises(SystemExit) as exit_:
        stage()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: /p/reports/index.html: the disk is full; free some space")


def test_other_os_errors_keep_their_traceback():
    @exits_cleanly
    def stage() -> None:
        raise OSError(errno.EIO, "Input/output error", "/p/x")

    with pytest.raises(OSError, match="Input/output error"):
        stage()
