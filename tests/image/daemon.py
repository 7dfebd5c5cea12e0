"""A dockerd of the image session's own, that keeps its hands off the host's network.

Its data-root (a tmpfs), exec-root, socket, pid file, configuration and cgroup parent are all under one
temporary directory (or named after it), so it neither meets nor disturbs a system Docker. It creates
no bridge and no iptables rules at all (``--bridge=none --iptables=false``): the session's builds and
containers use the host's network, so there is nothing of the daemon's in the host's network to remove
afterwards. Stopping it undoes the rest (containers, mounts, cgroups, the files dockerd writes outside
its roots) and reports anything that is still different from before it started. The root keeps what a
later session needs to do the same for a session that was killed outright (see ``leftovers``): dockerd's
pid file, and which of those files were there before.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from tests.harness.memory import process_tree
from tests.image.docker_cli import DockerCli
from tests.image.host_state import CGROUP_ROOT, DAEMON_FILES, HostState

DOCKERD = "/usr/sbin/dockerd"
DEBIAN_DOCKER = "/usr/bin/docker"
DATA_ROOT_SIZE = "6g"  # an upper bound, not a reservation: tmpfs takes memory as files are written
ROOT_PARENT = Path("/tmp")  # short: containerd's sockets live in the exec-root, socket paths are <= 108 bytes
ROOT_PREFIX = "fraiday-image-"
FILES_BEFORE = "host-files-before"


class DaemonError(RuntimeError):
    """The private dockerd did not start; the message ends with its log."""


class PrivateDockerd:
    def __init__(self, root: Path, log_path: Path, daemon_files: tuple[Path, ...] = DAEMON_FILES) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.log_path = log_path
        self.cgroup_parent = root.name
        self.daemon_files = daemon_files
        self.cli = DockerCli(DEBIAN_DOCKER, f"unix://{self.socket}")
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.before: HostState | None = None
        self.files_before: frozenset[str] | None = None

    @classmethod
    def fresh(cls, log_path: Path) -> "PrivateDockerd":
        return cls(Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=ROOT_PARENT)), log_path)

    @classmethod
    def left_by_a_killed_session(
        cls, root: Path, daemon_files: tuple[Path, ...] = DAEMON_FILES
    ) -> "PrivateDockerd":
        """The daemon of a session that never stopped it, as far as its root tells: enough to stop it."""
        daemon = cls(root, root / "dockerd.log", daemon_files)
        daemon.pid = _daemon_pid(root)
        with suppress(OSError):
            daemon.files_before = frozenset((root / FILES_BEFORE).read_text().splitlines())
        return daemon

    def argv(self) -> list[str]:
        config = self.root / "daemon.json"  # not /etc/docker/daemon.json: nothing of a system Docker's
        config.write_text("{}\n")
        return [
            DOCKERD, f"--config-file={config}", f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}", f"--host=unix://{self.socket}",
            f"--pidfile={self.root / 'docker.pid'}", f"--cgroup-parent=/{self.cgroup_parent}",
            "--bridge=none", "--iptables=false", "--ip6tables=false",
        ]  # fmt: skip

    def start(self, timeout: float = 60) -> DockerCli:
        self.before = HostState.capture()
        self.files_before = self.before.files
        (self.root / FILES_BEFORE).write_text("".join(f"{path}\n" for path in sorted(self.files_before)))
        # The data-root in memory: a build leaves tens of thousands of files that take longer to
        # delete from disk than to write (seconds to a minute on a busy machine); unmounting is instant.
        data = self.root / "data"
        data.mkdir()
        mount = ["mount", "-t", "tmpfs", "-o", f"size={DATA_ROOT_SIZE}", "tmpfs", str(data)]
        mounted = subprocess.run(mount, capture_output=True, text=True, check=False)
        if mounted.returncode != 0:
            raise DaemonError(f"cannot mount a tmpfs for the data-root: {mounted.stderr.strip()}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DaemonError(f"dockerd exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.socket.exists() and self.cli.answers():
                return self.cli
            time.sleep(0.1)
        raise DaemonError(f"dockerd did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> list[str]:
        """Stop it and everything it started; return what still differs from the host before it started."""
        self.tear_down()
        return HostState.capture().changes_since(self.before) if self.before is not None else []

    def tear_down(self) -> None:
        if self.pid is not None:
            self._remove_containers()
            self._stop_process_tree(self.pid)
        # What outlived dockerd (a shim whose daemon was killed), found by the paths it runs from.
        for pid in processes_under(self.root):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._unmount_under_root()
        self._remove_cgroups()
        if self.files_before is not None:
            for path in self.daemon_files:
                if str(path) not in self.files_before:
                    _remove(path)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _remove_containers(self) -> None:
        if self.pid is None or not _alive(self.pid) or not self.socket.exists() or not self.cli.answers():
            return
        ids = self.cli.run("ps", "--all", "--quiet").split()
        if ids:
            self.cli.run("rm", "--force", "--volumes", *ids, timeout=60)

    def _stop_process_tree(self, pid: int) -> None:
        # containerd and its shims run in sessions of their own: remember them before dockerd goes.
        tree = process_tree(pid)
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not gone_within(pid, 30):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            gone_within(pid, 10)
        if self.process is not None:
            self.process.wait(10)
        for member in tree[1:]:
            deadline = time.monotonic() + 10
            while _alive(member) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(member):
                os.kill(member, signal.SIGKILL)

    def _unmount_under_root(self) -> None:
        prefix = f"{self.root}/"
        points = [
            line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1] == str(self.root) or line.split()[1].startswith(prefix)
        ]  # fmt: skip
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)

    def _remove_cgroups(self) -> None:
        for hierarchy in CGROUP_ROOT.glob("*"):
            parent = hierarchy / self.cgroup_parent
            if not parent.is_dir():
                continue
            # A cgroup is removed with rmdir once empty; its control files go with it. Whatever still
            # runs in one is a container's process whose shim is gone: nothing else runs under this parent.
            for directory in sorted(
                (d for d in parent.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)
            ):
                _kill_members(directory)
                with suppress(OSError):
                    directory.rmdir()
            _kill_members(parent)
            with suppress(OSError):
                parent.rmdir()


def _daemon_pid(root: Path) -> int | None:
    """dockerd's pid from its pid file, if that process is still this root's dockerd (pids are reused)."""
    try:
        pid = int((root / "docker.pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if f"--exec-root={root}/exec".encode() in command else None


def processes_under(root: Path) -> list[int]:
    """Processes whose command line names a path under ``root`` or that run in a directory under it."""
    prefix = f"{root}/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if prefix in command or f"{cwd}/".startswith(prefix):
            found.append(int(entry.name))
    return found


def _kill_members(cgroup: Path) -> None:
    try:
        pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
    except OSError:
        return
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        gone_within(pid, 10)


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours is gone for every purpose here
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
