"""What a Docker daemon can leave behind on a host, captured before and compared after.

Network interfaces (a daemon's bridge), iptables rules (its chains), mounts (overlay layers, network
namespaces, its data-root bind mount), top-level cgroups (its cgroup parent) and the few files dockerd
writes outside its own roots whatever it is told. The image session promises to leave all of them as it
found them; this is how it checks instead of hoping.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Written outside the daemon's own roots whatever it is told: dockerd 20.10's identity key and plugin
# directory, the shim sockets of containerd, and runc's state of BuildKit's build steps.
DAEMON_FILES = tuple(
    Path(p)
    for p in ("/etc/docker/key.json", "/run/docker", "/run/containerd", "/run/runc", "/var/lib/docker")
)
COUNTERS = re.compile(r"\[\d+:\d+\]")


def network_interfaces() -> frozenset[str]:
    return frozenset(p.name for p in Path("/sys/class/net").iterdir())


def iptables_rules() -> frozenset[str]:
    """Every table's chains and rules, without the counters and comments that change on their own."""
    rules: set[str] = set()
    for tool in ("iptables-save", "ip6tables-save"):
        if shutil.which(tool) is None:
            continue
        dump = subprocess.run([tool], capture_output=True, text=True, check=False).stdout
        rules |= {
            f"{tool}: {COUNTERS.sub('', line).strip()}" for line in dump.splitlines() if line[:1] != "#"
        }
    return frozenset(rules)


def mount_points(mounts: str | None = None) -> frozenset[str]:
    text = Path("/proc/mounts").read_text() if mounts is None else mounts
    return frozenset(line.split()[1] for line in text.splitlines() if len(line.split()) > 1)


def top_level_cgroups(root: Path = CGROUP_ROOT) -> frozenset[str]:
    if not root.is_dir():
        return frozenset()
    return frozenset(
        f"{hierarchy.name}/{group.name}"
        for hierarchy in root.iterdir()
        if hierarchy.is_dir()
        for group in hierarchy.iterdir()
        if group.is_dir()
    )


def daemon_files() -> frozenset[str]:
    return frozenset(str(path) for path in DAEMON_FILES if path.exists())


@dataclass(frozen=True)
class HostState:
    interfaces: frozenset[str]
    iptables: frozenset[str]
    mounts: frozenset[str]
    cgroups: frozenset[str]
    files: frozenset[str]

    @classmethod
    def capture(cls) -> "HostState":
        return cls(
            network_interfaces(), iptables_rules(), mount_points(), top_level_cgroups(), daemon_files()
        )

    def changes_since(self, before: "HostState") -> list[str]:
        """One line per thing added or removed since ``before``; empty when the host is as it was."""
        lines = []
        for kind in ("interfaces", "iptables", "mounts", "cgroups", "files"):
            now, then = getattr(self, kind), getattr(before, kind)
            lines += [f"{kind}: left behind {item}" for item in sorted(now - then)]
            lines += [f"{kind}: removed {item}" for item in sorted(then - now)]
        return lines
