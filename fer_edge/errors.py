"""The exception hierarchy: every error fer-edge raises on purpose derives from FerEdgeError."""


class FerEdgeError(Exception):
    """Base class for errors with a message meant for the user."""


class ImageDecodeError(FerEdgeError):
    """A file could not be decoded as an image (corrupt, truncated, empty or not an image)."""


class DatasetError(FerEdgeError):
    """A dataset folder is missing, empty or inconsistent."""


class ModelError(FerEdgeError):
    """A model file is missing, unreadable or does not match its metadata."""


class MissingDependencyError(FerEdgeError):
    """An optional dependency (an extra) is not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"{package} is not installed; this needs the workstation tools: "
            f'pip install "fer-edge[{extra}]"'
        )
        self.package = package
        self.extra = extra


class OutputError(FerEdgeError):
    """An output file or folder cannot be written (missing, read-only, not a folder, disk full)."""
