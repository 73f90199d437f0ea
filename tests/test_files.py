"""Safe output files: atomic writes, whole JSON lines, fresh-line appends, output names that never hit an input."""

from __future__ import annotations

import errno
import json
import os

import pytest

from fer_edge.errors import OutputError
from fer_edge.files import (append_line, ensure_folder, open_append, output_paths, require_writable_file,
                             write_atomic, write_json)

needs_non_root = pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")


def test_write_atomic_replaces_whole_files_and_names_a_missing_folder(tmp_path):
    target = tmp_path / "a.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["a.json"]
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'missing' / 'b.json'}"):
        write_atomic(tmp_path / "missing" / "b.json", b"x")


def test_ensure_folder_refuses_a_file_in_its_place(tmp_path):
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        ensure_folder(tmp_path / "file" / "sub")
    assert ensure_folder(tmp_path / "new" / "sub").is_dir() and (tmp_path / "file").read_text() == "keep me"


def test_ensure_folder_names_a_file_of_the_same_name(tmp_path):
    (tmp_path / "out").write_text("keep me")
    with pytest.raises(OutputError, match=r"cannot create the output folder .*out: a file of that name is in the way"):
        ensure_folder(tmp_path / "out")
    assert (tmp_path / "out").read_text() == "keep me"


def test_an_output_file_is_checked_before_the_work(tmp_path):
    assert require_writable_file(tmp_path / "new" / "b.json") == tmp_path / "new" / "b.json"
    assert (tmp_path / "new").is_dir() and not (tmp_path / "new" / "b.json").exists()  # nothing written yet
    with pytest.raises(OutputError, match=r"new is a folder; name an output file"):
        require_writable_file(tmp_path / "new")
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(OutputError, match=r"cannot create the output folder .*file: a file of that name is in the way"):
        require_writable_file(tmp_path / "file" / "b.json")
    with pytest.raises(OutputError, match=r"cannot create the output folder .*file/sub: Not a directory"):
        require_writable_file(tmp_path / "file" / "sub" / "b.json")
    assert (tmp_path / "file").read_text() == "keep me"


@needs_non_root
def test_an_output_file_in_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(OutputError, match=r"cannot write .*ro/b.json: permission denied"):
        require_writable_file(folder / "b.json")


def test_write_json_is_atomic_and_indented(tmp_path):
    target = tmp_path / "m.json"
    write_json(target, {"accuracy": 0.5, "labels": ["a"]})
    assert target.read_text() == '{\n  "accuracy": 0.5,\n  "labels": [\n    "a"\n  ]\n}\n'
    assert json.loads(target.read_text()) == {"accuracy": 0.5, "labels": ["a"]}
    with pytest.raises(OutputError, match="cannot write"):
        write_json(tmp_path / "missing" / "m.json", {})


def test_appends_start_on_a_fresh_line_after_a_torn_one(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"frame": 1}\n{"frame": 2, "fa')  # a kill mid-line
    with open_append(path) as handle:
        append_line(handle, '{"frame": 3}')
    assert path.read_text().splitlines() == ['{"frame": 1}', '{"frame": 2, "fa', '{"frame": 3}']


class FullDisk:
    """A file whose disk fills up after `room` more bytes: the rest of a write fails with ENOSPC."""

    def __init__(self, handle, room):
        self.handle, self.room, self.name = handle, room, handle.name

    def fileno(self):
        return self.handle.fileno()

    def write(self, data):
        if not self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        part = data[:self.room]
        self.room -= len(part)
        return self.handle.write(part)


def test_a_failed_append_leaves_no_torn_line(tmp_path):
    path = tmp_path / "events.jsonl"
    with open_append(path) as handle:
        append_line(handle, '{"frame": 1}')
        with pytest.raises(OutputError, match="No space left on device"):
            append_line(FullDisk(handle, room=5), '{"frame": 2}')  # 5 bytes reach the file, then the disk is full
        append_line(handle, '{"frame": 3}')
    assert path.read_bytes() == b'{"frame": 1}\n{"frame": 3}\n'


def test_open_append_names_an_unwritable_path(tmp_path):
    with pytest.raises(OutputError, match=str(tmp_path / "no" / "events.jsonl")):
        open_append(tmp_path / "no" / "events.jsonl")


def test_output_paths_never_hit_an_input_or_each_other(tmp_path):
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "face.jpg").write_bytes(b"photo")
    (tmp_path / "a.jpg").write_bytes(b"photo")
    inputs = [tmp_path / "d1" / "face.jpg", tmp_path / "d2" / "face.jpg", tmp_path / "a.jpg", tmp_path / "b.png"]
    outputs = output_paths(inputs, tmp_path)
    assert [p.name for p in outputs.values()] == ["face.jpg", "face_2.jpg", "a_2.jpg", "b.jpg"]
    same_folder = output_paths([tmp_path / "d1" / "face.jpg"], tmp_path / "d1")
    assert same_folder[tmp_path / "d1" / "face.jpg"] == tmp_path / "d1" / "face_2.jpg"


@needs_non_root
def test_read_only_folder_is_a_clean_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(OutputError, match="Permission denied"):
        write_atomic(folder / "x", b"x")


def test_staged_folder_publishes_together_or_not_at_all(tmp_path):
    from fer_edge.files import staged_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.bin").write_bytes(b"old a")
    with pytest.raises(RuntimeError):
        with staged_folder(out) as stage:
            (stage / "a.bin").write_bytes(b"new a")
            (stage / "b.bin").write_bytes(b"new b")
            raise RuntimeError("second conversion failed")
    assert sorted(p.name for p in out.iterdir()) == ["a.bin"] and (out / "a.bin").read_bytes() == b"old a"
    with staged_folder(out) as stage:
        (stage / "a.bin").write_bytes(b"new a")
        (stage / "b.bin").write_bytes(b"new b")
    assert sorted(p.name for p in out.iterdir()) == ["a.bin", "b.bin"] and (out / "a.bin").read_bytes() == b"new a"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="file"):
        with staged_folder(tmp_path / "file"):
            pass
