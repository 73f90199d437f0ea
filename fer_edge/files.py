"""Output files written safely: atomic replaces, whole JSON lines, and clear errors that name the path."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

from fer_edge.errors import DatasetError, OutputError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def is_inside(path: str | Path, folder: str | Path) -> bool:
    """Whether `path` is `folder` or lies under it (links resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def require_outside_data(out: str | Path, data: str | Path) -> None:
    """Refuse an output folder inside a labelled-image folder, where its files would later be read as a class.

    Raises:
        DatasetError: `out` is `data` or lies under it.
    """
    if is_inside(out, data):
        raise DatasetError(f"--out {out} is inside the data folder {data}: its files would be read as a class; "
                           "choose a folder outside it")


def ensure_folder(path: str | Path) -> Path:
    """Create the output folder `path` (and its parents) if needed.

    Raises:
        OutputError: it cannot be created, or a file stands in its place.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # exist_ok covers folders only
        raise OutputError(f"cannot create the output folder {path}: a file of that name is in the way") from exc
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {path}: {_reason(exc)}") from exc
    return path


def require_writable_file(path: str | Path) -> Path:
    """Check, before any long work, that the output file `path` can be written; create its folder if needed.

    Raises:
        OutputError: `path` is a folder, or its folder cannot be created or does not take new files.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; name an output file")
    folder = ensure_folder(path.parent)
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"cannot write {path}: permission denied")
    return path


def write_json(path: str | Path, data) -> None:
    """Write `data` as indented JSON to `path`, atomically.

    Raises:
        OutputError: the file cannot be written.
    """
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place.

    A failure leaves any previous `path` untouched and no temporary file behind.

    Raises:
        OutputError: the folder is missing or not writable, or the disk is full.
    """
    path = Path(path)
    try:
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def end_torn_line(path: Path) -> None:
    """A run killed mid-write leaves a line without newline; close it so new records stay whole."""
    if path.exists() and path.stat().st_size:
        with path.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")


def open_append(path: str | Path) -> IO[bytes]:
    """Open a JSON-lines file for appending (unbuffered bytes); the first new line starts on a fresh line.

    Raises:
        OutputError: the file or its folder cannot be written.
    """
    path = Path(path)
    try:
        end_torn_line(path)
        return path.open("ab", buffering=0)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from exc


def append_line(handle: IO[bytes], line: str) -> None:
    """Append `line` and a newline; on failure (a full disk) the file is cut back so no torn line stays.

    Raises:
        OutputError: the line could not be written whole.
    """
    data = (line + "\n").encode()
    start = os.fstat(handle.fileno()).st_size
    try:
        written = 0
        while written < len(data):
            written += handle.write(data[written:])
    except OSError as exc:
        try:
            os.ftruncate(handle.fileno(), start)
        except OSError:
            pass  # nothing more can be done; the original error is reported
        raise OutputError(f"cannot write {handle.name}: {_reason(exc)}") from exc


def output_paths(inputs: list[Path], folder: Path, suffix: str = ".jpg") -> dict[Path, Path]:
    """One output path per input inside `folder`, named after the input (`photo.png` -> `photo.jpg`).

    Never an input's own path, and never the same path for two inputs: a clash gets `_2`, `_3`, ...
    """
    taken = {path.resolve() for path in inputs if path.exists()}
    outputs: dict[Path, Path] = {}
    for path in inputs:
        for index in range(1, len(inputs) + len(taken) + 2):
            name = f"{path.stem}{suffix}" if index == 1 else f"{path.stem}_{index}{suffix}"
            candidate = folder / name
            if candidate.resolve() not in taken:
                break
        outputs[path] = candidate
        taken.add(candidate.resolve())
    return outputs


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """A hidden folder inside `folder` to write a set of files into; they move into `folder` together.

    On a normal exit every file of the staging folder replaces its namesake in `folder`; on an
    exception none does, and `folder` keeps exactly what it had. The staging folder is removed.

    Raises:
        OutputError: `folder` cannot be created or written.
    """
    folder = ensure_folder(folder)
    try:
        stage = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
    except OSError as exc:
        raise OutputError(f"cannot write into {folder}: {_reason(exc)}") from exc
    try:
        yield stage
        for path in sorted(stage.iterdir()):
            os.replace(path, folder / path.name)
    except OSError as exc:
        raise OutputError(f"cannot move the new files into {folder}: {_reason(exc)}") from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
