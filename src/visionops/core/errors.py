"""The one exception type that means "the user can fix this": entry points print it as one line."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any


class UserError(Exception):
    """Bad input or environment; the message says what is wrong and what to do. Exit status 2."""


class TransientError(UserError):
    """A fault that may pass if tried again (the network); exit status 75, EX_TEMPFAIL in sysexits.h."""


TRANSIENT_EXIT = 75
# what a full disk looks like from the OS and from SQLite (the MLflow store), whichever notices first
DISK_FULL_SIGNS = ("No space left on device", "database or disk is full")


def disk_full_error(where: str) -> UserError:
    return UserError(
        f"{where}: the disk is full; free some space (a run from scratch writes about 0.7 GB: data, DVC cache, "
        "MLflow artifacts) and run the same command again: finished stages are kept"
    )


def exits_cleanly(main: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a UserError into one line on stderr and exit status 2; let bugs keep their traceback."""

    @wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(TRANSIENT_EXIT if isinstance(exc, TransientError) else 2) from None
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            print(f"error: {disk_full_error(exc.filename or 'writing')}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
