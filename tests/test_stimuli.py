"""Tests of dnn_manifolds.generation.stimuli: embedded set, reader layout, templates, resumable download."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading

import h5py
import numpy as np
import pytest

from dnn_manifolds import cli
from dnn_manifolds.generation import embedded, stimuli, templates
from dnn_manifolds.generation.download import download_file, download_thumbnails
from dnn_manifolds.generation.embedded import make_embedded_stimuli
from dnn_manifolds.generation.stimuli import StimulusSet, write_stimulus_file
from dnn_manifolds.generation.templates import choose_categories, choose_templates


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    path = tmp_path_factory.mktemp("stim") / "embedded.h5"
    make_embedded_stimuli(path, seed=3, n_categories=6, n_exemplars=4)
    return path


# ----------------------------------------------------------------------------- embedded set


def test_embedded_stimuli_are_deterministic_from_seed(tmp_path, small_set):
    again = make_embedded_stimuli(tmp_path / "again.h5", seed=3, n_categories=6, n_exemplars=4)
    other = make_embedded_stimuli(tmp_path / "other.h5", seed=4, n_categories=6, n_exemplars=4)
    with StimulusSet(small_set) as a, StimulusSet(again) as b, StimulusSet(other) as c:
        all_idx = np.arange(len(a))
        np.testing.assert_array_equal(a.images(all_idx), b.images(all_idx))
        np.testing.assert_array_equal(a.labels, b.labels)
        assert np.abs(a.images(all_idx).astype(int) - c.images(all_idx).astype(int)).mean() > 10


def test_embedded_stimuli_have_the_thumbnail_format(small_set):
    with StimulusSet(small_set) as s:
        assert len(s) == 24 and s.image_size == 144 and s.kind == "embedded"
        imgs = s.images([0, 5, 23])
        assert imgs.shape == (3, 144, 144, 3) and imgs.dtype == np.uint8
        assert list(s.categories) == [f"cat{k:03d}" for k in range(6)]
        assert list(s.labels[:5]) == ["cat000"] * 4 + ["cat001"]
        assert s.attrs["seed"] == 3 and s.attrs["n_exemplars"] == 4
    with h5py.File(small_set, "r") as f:  # MATLAB v7.3 layout, as h5py shows it
        assert f["thumbnails"].shape == (24, 3, 144, 144)
        assert f["thumbnails"].attrs["MATLAB_class"] == b"uint8"
        assert f["labels"].attrs["MATLAB_class"] == b"cell"
        assert h5py.check_dtype(ref=f["labels"].dtype) is not None


def test_embedded_objects_carry_category_structure_in_the_centre():
    images, labels = embedded.embedded_images(seed=0, n_categories=8, n_exemplars=6)
    labels = np.array(labels)
    centre = images[:, 60:84, 60:84].astype(float)  # the middle of the 48×48 object square
    surround = images[:, :24].astype(float)  # top band, far from the object

    def within_minus_between(features):
        # colour histogram-free summary: mean colour per image
        f = features.reshape(len(images), -1, 3).mean(axis=1)
        d = np.linalg.norm(f[:, None] - f[None], axis=-1)
        same = labels[:, None] == labels[None]
        off = ~np.eye(len(images), dtype=bool)
        return d[same & off].mean() / d[~same].mean()

    assert within_minus_between(centre) < 0.4  # exemplars of one category look alike
    assert within_minus_between(surround) > 0.8  # backgrounds do not depend on the category


def test_embedded_stimuli_reject_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_categories must be an integer ≥ 2"):
        make_embedded_stimuli(tmp_path / "x.h5", n_categories=1)
    with pytest.raises(TypeError, match="n_exemplars must be an integer"):
        make_embedded_stimuli(tmp_path / "x.h5", n_exemplars=2.5)
    assert not (tmp_path / "x.h5").exists()


# ----------------------------------------------------------------------------- reader


def test_reader_undoes_the_reversed_matlab_axis_order(tmp_path):
    img = np.zeros((2, 144, 144, 3), dtype=np.uint8)
    img[0, 10, :, 0] = 200  # a horizontal line (row 10) in red
    img[1, :, 20, 2] = 100  # a vertical line (column 20) in blue
    path = write_stimulus_file(tmp_path / "t.mat", img, ["a", "b"])
    with h5py.File(path, "r") as f:
        raw = f["thumbnails"][0]  # (3, W, H): raw[c, x, y] = image[y, x, c]
        assert raw.shape == (3, 144, 144)
        assert (raw[0, :, 10] == 200).all() and raw[0, :, 11].max() == 0
    with StimulusSet(path) as s:
        np.testing.assert_array_equal(s.images([1, 0, 1]), img[[1, 0, 1]])
        assert list(s.labels) == ["a", "b"]


def test_reader_accepts_plain_string_labels(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["thumbnails"] = np.zeros((2, 3, 144, 144), dtype=np.uint8)
        f["labels"] = np.array([b"n01440764", b"n01443537"])
    with StimulusSet(path) as s:
        assert list(s.labels) == ["n01440764", "n01443537"]


def test_reader_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such stimulus file"):
        StimulusSet(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["images"] = np.zeros(3)
    with pytest.raises(ValueError, match="no 'thumbnails' variable"):
        StimulusSet(bad)
    notfile = tmp_path / "text.mat"
    notfile.write_text("not hdf5")
    with pytest.raises(ValueError, match="cannot be read"):
        StimulusSet(notfile)


def test_reader_rejects_out_of_range_indices(small_set):
    with StimulusSet(small_set) as s, pytest.raises(ValueError, match="0..23"):
        s.images([0, 24])


# ----------------------------------------------------------------------------- templates


LABELS = np.repeat([f"c{k}" for k in range(10)], 5)


def test_templates_are_one_per_category_and_deterministic():
    a = choose_templates(LABELS, 8, seed=2, base_seed=2)
    assert len(set(LABELS[a])) == 8
    np.testing.assert_array_equal(a, choose_templates(LABELS, 8, seed=2, base_seed=2))
    assert not np.array_equal(a, choose_templates(LABELS, 8, seed=5, base_seed=5))
    assert len(set(LABELS[choose_templates(LABELS, 10, seed=0)])) == 10


def test_object_set_controls_are_image_disjoint_from_earlier_sets():
    base = choose_templates(LABELS, 8, seed=0)
    c1 = choose_templates(LABELS, 8, seed=1)
    c2 = choose_templates(LABELS, 8, seed=2)
    assert not set(base) & set(c1)
    assert not set(c2) & (set(base) | set(c1))
    assert len(set(c1)) == 8


def test_template_default_seeds_follow_the_original():
    assert templates.default_template_seeds(128) == (1, 1)
    assert templates.default_template_seeds(32) == (4, 0)
    assert templates.default_template_seeds(64) == (0, 0)
    # default for P = 16 is the 4th control set: disjoint from the base set of seed 0
    labels = np.repeat([f"c{k}" for k in range(20)], 5)
    default16 = choose_templates(labels, 16)
    np.testing.assert_array_equal(default16, choose_templates(labels, 16, seed=4))
    assert not set(default16) & set(choose_templates(labels, 16, seed=0))
    np.testing.assert_array_equal(choose_templates(labels, 5), choose_templates(labels, 5, seed=0))


def test_templates_need_enough_categories():
    with pytest.raises(ValueError, match="only 10"):
        choose_templates(LABELS, 11, seed=0)


def test_choose_categories_draws_distinct_categories():
    cats = choose_categories(np.unique(LABELS), 4, seed=1)
    assert len(set(cats)) == 4
    np.testing.assert_array_equal(cats, choose_categories(np.unique(LABELS), 4, seed=1))


# ----------------------------------------------------------------------------- download


class _Server:
    """A local HTTP server (127.0.0.1) with Range support and an optional cut connection."""

    def __init__(self, payload: bytes, *, cut_after: int | None = None, record: dict | None = None):
        self.payload = payload
        self.cut_after = cut_after
        self.requests: list[dict] = []
        self.record = record
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                if self.path == "/api":
                    body = json.dumps(server.record).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path != "/file":
                    self.send_error(404)
                    return
                data, start = server.payload, 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None and len(server.requests) == 1:
                    self.wfile.write(body[:server.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # interrupted transfer
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


PAYLOAD = np.random.default_rng(0).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_download_verifies_and_renames_atomically(tmp_path):
    with _Server(PAYLOAD) as srv:
        out = download_file(f"{srv.url}/file", tmp_path / "t.mat", md5=MD5, size=len(PAYLOAD),
                            progress=False)
    assert out.read_bytes() == PAYLOAD
    assert not (tmp_path / "t.mat.part").exists()


def test_download_resumes_after_an_interrupted_transfer(tmp_path):
    with _Server(PAYLOAD, cut_after=100_000) as srv:
        out = download_file(f"{srv.url}/file", tmp_path / "t.mat", md5=MD5, retries=3, backoff=0,
                            progress=False, chunk_size=4096)
        assert out.read_bytes() == PAYLOAD
        assert srv.requests[0]["range"] is None
        resumed_at = int(srv.requests[1]["range"].split("=")[1].rstrip("-"))
        assert 0 < resumed_at <= 100_000  # it asked only for the rest


def test_download_resumes_a_part_file_left_by_an_earlier_run(tmp_path):
    (tmp_path / "t.mat.part").write_bytes(PAYLOAD[:123_456])
    with _Server(PAYLOAD) as srv:
        download_file(f"{srv.url}/file", tmp_path / "t.mat", md5=MD5, progress=False)
        assert [r["range"] for r in srv.requests] == ["bytes=123456-"]
    assert (tmp_path / "t.mat").read_bytes() == PAYLOAD


def test_download_checksum_mismatch_removes_the_partial_file(tmp_path):
    with _Server(PAYLOAD) as srv, pytest.raises(ValueError, match="md5 .* expected 0+"):
        download_file(f"{srv.url}/file", tmp_path / "t.mat", md5="0" * 32, progress=False)
    assert not (tmp_path / "t.mat").exists() and not (tmp_path / "t.mat.part").exists()


def test_download_gives_up_after_retries_and_keeps_the_part(tmp_path):
    with _Server(PAYLOAD) as srv, pytest.raises(OSError, match="HTTP 404"):
        download_file(f"{srv.url}/nothing", tmp_path / "t.mat", progress=False, backoff=0)
    assert len(srv.requests) == 1  # client errors are not retried


def test_download_thumbnails_uses_the_figshare_record(tmp_path):
    with _Server(PAYLOAD) as srv:
        srv.record = {"files": [{"name": stimuli.THUMBNAILS_NAME, "download_url": f"{srv.url}/file",
                                 "size": len(PAYLOAD), "computed_md5": MD5}]}
        out = download_thumbnails(tmp_path, api_url=f"{srv.url}/api", progress=False)
    assert out == tmp_path / stimuli.THUMBNAILS_NAME and out.read_bytes() == PAYLOAD
    with _Server(PAYLOAD) as srv:  # a record with the wrong md5 fails verification
        srv.record = {"files": [{"name": stimuli.THUMBNAILS_NAME, "download_url": f"{srv.url}/file",
                                 "size": len(PAYLOAD), "computed_md5": "f" * 32}]}
        with pytest.raises(ValueError, match="verification failed"):
            download_thumbnails(tmp_path / "other.mat", api_url=f"{srv.url}/api", progress=False)


def test_cli_makes_and_describes_a_stimulus_file(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert cli.main(["stimuli", "make", str(out), "--n-categories", "3", "--n-exemplars", "2"]) == 0
    assert cli.main(["stimuli", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["n_images"] == 6 and info["kind"] == "embedded"
    assert cli.main(["stimuli", "make", str(out), "--n-categories", "1"]) == 2
