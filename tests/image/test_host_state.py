"""The before/after comparison that decides whether the image session left the host as it found it."""

from tests.image.host_state import HostState, mount_points

EMPTY: frozenset[str] = frozenset()


def state(**kinds: frozenset[str]) -> HostState:
    return HostState(
        **{k: kinds.get(k, EMPTY) for k in ("interfaces", "iptables", "mounts", "cgroups", "files")}
    )


def test_an_unchanged_host_has_no_changes() -> None:
    now = HostState.capture()
    assert now.changes_since(now) == []


def test_every_kind_of_leftover_is_reported() -> None:
    before = state(interfaces=frozenset({"lo", "eth0"}), mounts=frozenset({"/"}))
    after = state(
        interfaces=frozenset({"lo", "eth0", "docker0"}),
        iptables=frozenset({"iptables-save: :DOCKER - "}),
        mounts=frozenset({"/", "/tmp/fraiday-image-x/data"}),
        cgroups=frozenset({"memory/fraiday-image-x"}),
        files=frozenset({"/etc/docker/key.json"}),
    )
    assert after.changes_since(before) == [
        "interfaces: left behind docker0",
        "iptables: left behind iptables-save: :DOCKER - ",
        "mounts: left behind /tmp/fraiday-image-x/data",
        "cgroups: left behind memory/fraiday-image-x",
        "files: left behind /etc/docker/key.json",
    ]
    assert before.changes_since(after)[0] == "interfaces: removed docker0"


def test_mount_points_are_read_from_proc_mounts_format() -> None:
    text = "/dev/vda / ext4 rw 0 0\nnsfs /tmp/x/exec/netns/default nsfs rw 0 0\n"
    assert mount_points(text) == {"/", "/tmp/x/exec/netns/default"}
