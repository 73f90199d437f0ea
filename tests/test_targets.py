"""Training targets: matching the same faces across two folders and blending their labels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_edge.dataset import load_labeled_folder
from fer_edge.errors import DatasetError
from fer_edge.preprocess import Preprocessing
from fer_edge.train.targets import blend_labels, match_faces
from fer_edge.votes import EMOTIONS
from test_votes import write_vote_folder

PREP = Preprocessing((48, 48), "grayscale")


def faces(count: int, seed: int) -> np.ndarray:
    """Smooth random faces (blurred noise), as uint8 (N, 48, 48, 1)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (count, 12, 12), dtype=np.uint8)
    return np.stack([cv2.resize(n, (48, 48), interpolation=cv2.INTER_CUBIC) for n in noise])[..., None]


def test_same_faces_match_through_jpeg_noise_and_others_do_not():
    ours = faces(50, seed=1)
    jpeg = np.stack([cv2.imdecode(cv2.imencode(".jpg", f[..., 0], [cv2.IMWRITE_JPEG_QUALITY, 75])[1],
                                  cv2.IMREAD_GRAYSCALE) for f in ours])[..., None]
    order = np.random.default_rng(2).permutation(50)
    others = np.concatenate([jpeg[order][:40], faces(30, seed=3)])  # 10 of ours are missing
    match = match_faces(ours, others)
    expected = np.full(50, -1)
    expected[order[:40]] = np.arange(40)
    np.testing.assert_array_equal(match.index, expected)
    assert match.mean_abs_diff[match.matched].max() < 4 and match.mean_abs_diff[~match.matched].min() > 8


def fer2013_copy(root, names_to_labels: dict[str, str], source):
    """The vote folder's faces as a FER2013-style ImageFolder (JPEG), with the given labels."""
    for name, label in names_to_labels.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / label / name.replace(".png", ".jpg")), cv2.imread(str(source / name)))
    return root


def test_blend_mixes_the_other_label_into_matched_faces(tmp_path):
    folder = write_vote_folder(tmp_path / "train")
    classes, split, _ = load_labeled_folder(folder, PREP)  # majority: fer0, 1, 4-9
    other = fer2013_copy(tmp_path / "fer2013", {"fer0.png": "happy", "fer1.png": "happy", "fer4.png": "angry"},
                         folder)
    blended = blend_labels(split, classes, other, 0.4, PREP, workers=1)
    targets = blended.targets
    neutral, happiness, anger, disgust = (EMOTIONS.index(n) for n in ("neutral", "happiness", "anger", "disgust"))
    np.testing.assert_allclose(targets[0][[neutral, happiness]], [0.6, 0.4])  # neutral face FER2013 calls happy
    np.testing.assert_allclose(targets[1][happiness], 1.0)                    # both agree
    np.testing.assert_allclose(targets[2][[anger, disgust]], [0.4, 0.6])
    np.testing.assert_allclose(targets[3:], np.eye(8)[split.labels[3:]])      # not in the other folder: unchanged
    assert blended.labels.tolist() == targets.argmax(axis=1).tolist()


def test_blend_refuses_unknown_classes_other_faces_and_bad_weights(tmp_path):
    folder = write_vote_folder(tmp_path / "train")
    classes, split, _ = load_labeled_folder(folder, PREP)
    unknown = fer2013_copy(tmp_path / "a", {"fer0.png": "bored", "fer1.png": "happy"}, folder)
    with pytest.raises(DatasetError, match="bored"):
        blend_labels(split, classes, unknown, 0.4, PREP, workers=1)
    strangers = tmp_path / "b" / "happy"
    strangers.mkdir(parents=True)
    for i, face in enumerate(faces(3, seed=9)):
        cv2.imwrite(str(strangers / f"{i}.jpg"), face[..., 0])
    with pytest.raises(DatasetError, match="not the same faces"):
        blend_labels(split, classes, tmp_path / "b", 0.4, PREP, workers=1)
    for weight in (0.0, 1.0, -0.5):
        with pytest.raises(DatasetError, match="blend-weight"):
            blend_labels(split, classes, unknown, weight, PREP, workers=1)
