"""FER+ vote folders: reading label.csv, the majority and probability protocols, loading as a dataset."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_edge.dataset import load_dataset, load_labeled_folder
from fer_edge.errors import DatasetError
from fer_edge.preprocess import Preprocessing
from fer_edge.votes import EMOTIONS, NO_LABEL, majority_labels, read_votes, targets_for, vote_distributions

PREP = Preprocessing((48, 48), "grayscale")
#          neutral happy surprise sad anger disgust fear contempt unknown NF
VOTES = {
    "fer0.png": [10, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # neutral, unanimous
    "fer1.png": [1, 6, 3, 0, 0, 0, 0, 0, 0, 0],    # happiness 6 of 9 after the stray vote
    "fer2.png": [4, 0, 0, 4, 0, 0, 0, 0, 2, 0],    # no majority: majority drops it, probability keeps it
    "fer3.png": [0, 0, 0, 0, 0, 0, 0, 0, 2, 8],    # not a face: dropped by both
    "fer4.png": [0, 0, 0, 0, 3, 5, 1, 1, 0, 0],    # disgust 5 of 8 after two stray votes
    "fer5.png": [0, 0, 0, 0, 0, 0, 3, 7, 0, 0],    # contempt
    "fer6.png": [0, 0, 7, 0, 0, 0, 3, 0, 0, 0],    # surprise
    "fer7.png": [0, 0, 0, 8, 2, 0, 0, 0, 0, 0],    # sadness
    "fer8.png": [0, 0, 0, 0, 9, 0, 1, 0, 0, 0],    # anger
    "fer9.png": [0, 0, 0, 0, 0, 0, 10, 0, 0, 0],   # fear
}


def write_vote_folder(folder, votes=VOTES, header=False):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["Usage,neutral,..."] if header else []
    for name, counts in votes.items():
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (48, 48), dtype=np.uint8))
        lines.append(f'{name},"(0, 0, 48, 48)",' + ",".join(map(str, counts)))
    (folder / "label.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_majority_protocol_golden_labels():
    labels = majority_labels(np.array(list(VOTES.values())))
    expected = ["neutral", "happiness", None, None, "disgust", "contempt", "surprise", "sadness", "anger", "fear"]
    assert [EMOTIONS[i] if i != NO_LABEL else None for i in labels] == expected


def test_probability_protocol_golden_distributions():
    dist = vote_distributions(np.array(list(VOTES.values())))
    np.testing.assert_allclose(dist[1], [0, 6 / 9, 3 / 9, 0, 0, 0, 0, 0], atol=1e-6)  # stray neutral vote dropped
    np.testing.assert_allclose(dist[2], [0.5, 0, 0, 0.5, 0, 0, 0, 0], atol=1e-6)       # unknown is not an emotion
    assert np.isnan(dist[3]).all()                                                    # not a face
    np.testing.assert_allclose(dist.sum(axis=1)[~np.isnan(dist[:, 0])], 1.0, atol=1e-6)


def test_vote_folder_loads_as_a_labelled_split(tmp_path):
    folder = write_vote_folder(tmp_path / "valid")
    classes, split, skipped = load_labeled_folder(folder, PREP)
    assert classes == EMOTIONS and not skipped
    assert [p.name for p in split.paths] == ["fer0.png", "fer1.png", "fer4.png", "fer5.png", "fer6.png",
                                             "fer7.png", "fer8.png", "fer9.png"]
    assert split.targets is None and split.pixels.shape == (8, 48, 48, 1)


def test_training_split_by_probability_and_valid_by_majority(tmp_path):
    write_vote_folder(tmp_path / "train")
    write_vote_folder(tmp_path / "valid")
    dataset = load_dataset(tmp_path, PREP, label_mode="probability")
    train, val = dataset.splits["train"], dataset.splits["val"]
    assert dataset.classes == EMOTIONS and len(train) == 9 and len(val) == 8
    assert train.targets.shape == (9, 8) and val.targets is None
    np.testing.assert_allclose(train.target_matrix(8).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(val.target_matrix(8), np.eye(8)[val.labels])


@pytest.mark.parametrize("line, message", [
    ('fer0.png,"(0, 0, 48, 48)",1,2,3', "expected file, box and 10"),
    ('fer0.png,"(0, 0, 48, 48)",a,0,0,0,0,0,0,0,0,0', "integers"),
    ('fer0.png,"(0, 0, 48, 48)",0,0,0,0,0,0,0,0,0,0', "at least one vote"),
    ('fer0.png,"(0, 0, 48, 48)",-1,0,0,0,0,0,0,0,0,11', "non-negative"),
    ('../x.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0', "bad image file name"),
])
def test_malformed_vote_rows_name_the_line(tmp_path, line, message):
    folder = write_vote_folder(tmp_path / "v")
    (folder / "label.csv").write_text(f'fer1.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0\n{line}\n')
    with pytest.raises(DatasetError, match=f"label.csv:2: .*{message}"):
        read_votes(folder)


def test_empty_or_binary_vote_files_are_dataset_errors(tmp_path):
    folder = write_vote_folder(tmp_path / "v")
    (folder / "label.csv").write_text("")
    with pytest.raises(DatasetError, match="no rows"):
        read_votes(folder)
    (folder / "label.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DatasetError):
        read_votes(folder)
    with pytest.raises(DatasetError, match="label mode"):
        targets_for(read_votes(write_vote_folder(tmp_path / "w")), "crossentropy")


def test_missing_images_are_skipped_and_an_emotion_without_faces_is_an_error(tmp_path):
    folder = write_vote_folder(tmp_path / "v", {**VOTES, "fer10.png": [9, 1, 0, 0, 0, 0, 0, 0, 0, 0]})
    (folder / "fer0.png").unlink()
    _, split, skipped = load_labeled_folder(folder, PREP)
    assert len(split) == 8 and [s.path.name for s in skipped] == ["fer0.png"]
    (folder / "fer9.png").unlink()  # the only fear face
    with pytest.raises(DatasetError, match="fear"):
        load_labeled_folder(folder, PREP)
