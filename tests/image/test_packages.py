"""Installing docker.io must not start the system's Docker daemon, and must be a no-op when done."""

from pathlib import Path

from tests.image.packages import missing, services_kept_from_starting


def test_installed_packages_are_not_missing() -> None:
    assert missing(["dpkg", "fraiday-no-such-package"]) == ["fraiday-no-such-package"]


def test_services_are_forbidden_during_the_install_only(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    with services_kept_from_starting(policy):
        assert policy.read_text() == "#!/bin/sh\nexit 101\n"
        assert policy.stat().st_mode & 0o111
    assert not policy.exists()


def test_a_policy_already_there_is_left_alone(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    with services_kept_from_starting(policy):
        pass
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"
