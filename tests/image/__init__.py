"""The container image, built and run for real: ``nox -s image`` (``python -m tests.image``).

The session installs Docker from Debian's packages, runs its own dockerd, builds a Python base image
from Debian packages (Docker Hub may be out of reach), builds the Dockerfile on it and runs the smoke
tests in ``tests/image/smoke`` against the image, then leaves the host as it found it.
"""
