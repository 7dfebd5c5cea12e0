"""The Debian base image's recipe: what the cached tree keeps, and when the cache is stale."""

from pathlib import Path

import pytest

from tests.image import base_image


def test_trim_drops_package_caches_and_docs_but_keeps_copyrights(tmp_path: Path) -> None:
    files = [
        "var/cache/apt/archives/python3_3.11.2_amd64.deb", "var/cache/apt/pkgcache.bin",
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "usr/share/man/man1/python3.1.gz",
        "usr/share/locale/de/LC_MESSAGES/apt.mo", "usr/share/doc/python3/changelog.gz",
        "usr/share/doc/python3/copyright", "usr/lib/python3.11/os.py",
        "usr/lib/python3.11/test/support/__init__.py", "usr/lib/python3.11/test/regrtest.py",
    ]  # fmt: skip
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    base_image.trim(tmp_path)
    kept = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert kept == ["usr/lib/python3.11/os.py", "usr/share/doc/python3/copyright"]
    assert (tmp_path / "var/cache/apt").is_dir()  # emptied, not removed: apt expects it


def test_cache_name_changes_with_the_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = base_image.cache_path(tmp_path)
    assert before == base_image.cache_path(tmp_path)
    monkeypatch.setattr(base_image, "PACKAGES", (*base_image.PACKAGES, "curl"))
    assert base_image.cache_path(tmp_path) != before
