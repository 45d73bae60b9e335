"""One `visionops run` per project: a second one is refused in one line naming the holder; the lock is re-entrant in
the process that holds it, and a killed holder leaves nothing stuck."""

import os
import signal
import subprocess
import sys

import pytest

from visionops.core.errors import UserError
from visionops.core.runtime import RUN_LOCK, project_lock

TRY_LOCK = (
    "import sys\n"
    "from pathlib import Path\n"
    "from visionops.core.errors import UserError\n"
    "from visionops.core.runtime import project_lock\n"
    "try:\n"
    "    with project_lock(Path(sys.argv[1])):\n"
    "        print('acquired')\n"
    "except UserError as exc:\n"
    "    print(exc)\n"
    "    sys.exit(2)\n"
)


def _try(root):
    return subprocess.run([sys.executable, "-c", TRY_LOCK, str(root)], capture_output=True, text=True, timeout=60)


def test_a_second_run_is_refused_naming_the_holder(tmp_path):
    with project_lock(tmp_path), project_lock(tmp_path):  # the command holds it, and so does the flow it starts
        second = _try(tmp_path)
    assert second.returncode == 2
    assert f"another visionops run holds {tmp_path.resolve()} (pid {os.getpid()}, since " in second.stdout
    assert _try(tmp_path).stdout.strip() == "acquired"  # released


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            TRY_LOCK.replace("print('acquired')", "print('acquired', flush=True); input()"),
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "acquired"
    assert _try(tmp_path).returncode == 2
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / RUN_LOCK).exists() and _try(tmp_path).stdout.strip() == "acquired"


def test_the_same_process_can_take_it_again_after_release(tmp_path):
    with project_lock(tmp_path):
        pass
    with project_lock(tmp_path):
        pass
    with pytest.raises(UserError), project_lock(tmp_path):
        raise UserError("inside")  # errors pass through, and the lock is released
    assert _try(tmp_path).returncode == 0
