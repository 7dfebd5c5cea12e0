"""A Python base image built from Debian packages, for machines that cannot pull from Docker Hub.

``debootstrap`` fetches a minimal bookworm with Python 3.11 from the same Debian mirror apt uses; the
tree, trimmed of package caches and documentation, is kept as a tarball under
``~/.cache/fraiday/images`` so only the first run pays for it (2-3 minutes). Each run imports the
tarball into its fresh daemon (seconds). The Dockerfile builds on it unchanged through its
``PYTHON_IMAGE`` argument; the image keeps no certificate of the host's (pip gets the host's CA bundle
as a build secret instead).
"""

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.image.docker_cli import DockerCli

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
TAG = "local/python:3.11-bookworm"
CACHE_DIR = Path.home() / ".cache" / "fraiday" / "images"
WORK_PARENT = Path("/var/tmp")  # debootstrap's tree: on disk, not in a /tmp that may be a small tmpfs
WORK_PREFIX = "fraiday-rootfs-"
# What the official slim images leave out too (their Python has no test package either); copyrights stay.
TRIMMED = (
    "var/cache/apt", "var/lib/apt/lists", "usr/share/man", "usr/share/info", "usr/share/locale",
    "usr/lib/python3.11/test",
)  # fmt: skip
# An imported image has no environment at all; the Dockerfile's `ENV PATH=/opt/fraiday/bin:$PATH` needs one.
IMAGE_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")


def cache_path(cache_dir: Path = CACHE_DIR) -> Path:
    """The tarball's name changes with anything that changes its content, so a stale one is never used."""
    recipe = "\n".join([SUITE, MIRROR, *PACKAGES, *TRIMMED, "v1"])
    return cache_dir / f"python3-{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}.tar"


def trim(rootfs: Path) -> None:
    for relative in TRIMMED:
        directory = rootfs / relative
        if directory.is_dir():
            for entry in directory.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
    for doc in (rootfs / "usr/share/doc").rglob("*"):
        if (doc.is_file() or doc.is_symlink()) and doc.name != "copyright":
            doc.unlink()


def unmount_under(directory: Path) -> None:
    """debootstrap mounts /proc and /sys in the tree and leaves them mounted if it fails half-way."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((p for p in points if p.startswith(f"{directory}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def bootstrap(tarball: Path, log: Path) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=WORK_PARENT))
    rootfs = work / "rootfs"
    try:
        with log.open("ab") as out:
            argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs)]
            result = subprocess.run([*argv, MIRROR], stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"debootstrap exited {result.returncode}:\n{tail}")
        trim(rootfs)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)


def load(docker: DockerCli, log: Path, cache_dir: Path = CACHE_DIR) -> bool:
    """Import the base image into the daemon, bootstrapping it first if not cached; True if it was built."""
    tarball = cache_path(cache_dir)
    built = not tarball.exists()
    if built:
        bootstrap(tarball, log)
        # An older recipe's tarball, or one a killed session left half-written: never used again.
        for stale in cache_dir.glob(f"python3-{SUITE}-*"):
            if stale != tarball:
                stale.unlink()
    changes = [arg for env in IMAGE_ENV for arg in ("--change", f"ENV {env}")]
    with tarball.open("rb") as stream:
        docker.run("import", *changes, "-", TAG, stdin=stream.fileno(), timeout=300)
    return built
