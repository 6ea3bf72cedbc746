"""Your own images as stimuli: folder layouts, the documented geometry (crop, fit, background),
one-line errors for bad folders, and manifolds recorded from them through a user model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

from dnn_manifolds import cli
from dnn_manifolds.generation.image_folder import (
    ImageSetError,
    check_images,
    fit_image,
    image_stimuli,
    list_images,
)
from dnn_manifolds.generation.stimuli import FRAME_SIZE, StimulusSet

RNG = np.random.default_rng(0)


def _image(path: Path, size=(30, 20), colour=(200, 30, 40), background=(250, 250, 250), mode="RGB"):
    w, h = size
    arr = np.empty((h, w, 3), np.uint8)
    arr[:] = background
    arr[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return arr


def make_folder(root: Path, n_objects=3, n_images=4, size=(30, 20)) -> Path:
    for o in range(n_objects):
        for k in range(n_images):
            ext = ".png" if k % 2 == 0 else ".jpg"
            _image(root / f"object{o}" / f"img{k}{ext}", size=size, colour=tuple(int(v) for v in RNG.integers(0, 200, 3)))
    return root


# ----------------------------------------------------------------------------- layouts


def test_sub_folders_flat_folders_and_csv(tmp_path):
    root = make_folder(tmp_path / "objs")
    _image(root / "object1" / "nested" / "extra.png")
    (root / "object0" / "notes.txt").write_text("not an image")
    (root / "object0" / ".hidden.png").write_bytes(b"junk")
    listing = list_images(root)
    assert listing.layout == "folders" and listing.objects == ["object0", "object1", "object2"]
    assert listing.counts == {"object0": 4, "object1": 5, "object2": 4}
    assert [p.name for p in listing.skipped] == ["notes.txt"]
    flat = tmp_path / "templates"
    for name in ("car", "dog", "face"):
        _image(flat / f"{name}.png")
    assert list_images(flat).labels == ("car", "dog", "face")
    csv = tmp_path / "set.csv"
    csv.write_text("path,object\nobjs/object0/img0.png,A\nobjs/object1/img0.png,B\nobjs/object2/img2.png,A\n")
    listing = list_images(csv)
    assert listing.layout == "csv" and listing.counts == {"A": 2, "B": 1}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: make_folder(d, n_objects=1), r"needs at least 2 objects to form dichotomies; found 1 \(\['object0'\]\)"),
        (lambda d: (make_folder(d), _image(d / "loose.png")), r"mixes images \(loose\.png, …\) and object sub-folders"),
        (lambda d: (make_folder(d), (d / "empty").mkdir()), r"empty: object sub-folder holds no images"),
        (lambda d: (_image(d / "a.png"), _image(d / "a.jpg"), _image(d / "b.png")), r"a\.jpg and a\.png would be the same object 'a'"),
        (lambda d: d.mkdir(), r"no images found"),
    ],
)
def test_bad_layouts_give_one_line(tmp_path, make, message):
    root = tmp_path / "imgs"
    make(root)
    with pytest.raises(ImageSetError, match=message) as err:
        list_images(root)
    assert "\n" not in str(err.value)


def test_unreadable_images_and_mixed_sizes_are_named(tmp_path):
    root = make_folder(tmp_path / "imgs")
    (root / "object1" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ImageSetError, match=r"object1/broken\.png: cannot be read as an image"):
        check_images(list_images(root))
    (root / "object1" / "broken.png").unlink()
    _image(root / "object2" / "big.png", size=(31, 20))
    with pytest.raises(ImageSetError, match=r"images must all have one size; img0\.png is 30×20 but .*object2/big\.png is 31×20"):
        check_images(list_images(root))
    (root / "object2" / "big.png").unlink()
    # damaged inside (the header reads): caught when the images are decoded
    data = (root / "object0" / "img2.png").read_bytes()
    (root / "object0" / "img2.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageSetError, match=r"object0/img2\.png: cannot be read as an image"):
        image_stimuli(root, tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()


def test_csv_errors(tmp_path):
    csv = tmp_path / "set.csv"
    csv.write_text("file,label\na.png,x\n")
    with pytest.raises(ImageSetError, match="the header must name the columns 'path' and 'object'"):
        list_images(csv)
    csv.write_text("path,object\nnowhere.png,x\n")
    with pytest.raises(FileNotFoundError, match="line 2: no such image"):
        list_images(csv)


# ----------------------------------------------------------------------------- geometry


def test_fit_object_puts_the_image_in_the_central_object_square():
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:] = (10, 20, 30)
    arr[5:35, 15:45] = (200, 100, 50)  # the central 40×40 square is what "center" keeps
    out = fit_image(arr, fit="object", crop="center", background="border")
    assert out.shape == (FRAME_SIZE, FRAME_SIZE, 3) and out.dtype == np.uint8
    expected = np.asarray(Image.fromarray(arr[:, 10:50]).resize((48, 48), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(out[48:96, 48:96], expected)
    np.testing.assert_array_equal(out[:48], np.broadcast_to([10, 20, 30], (48, FRAME_SIZE, 3)))  # the border's colour


def test_fit_view_stimulus_pad_and_backgrounds():
    arr = np.full((20, 40, 3), 90, np.uint8)
    view = fit_image(arr, fit="view", crop="pad", background=255)
    assert (view[:40] == 255).all() and (view[40:104, 40:104][20:44] == 90).all()  # padded rows are background
    assert (view[40:104, 40:104][:10] == 255).all()
    whole = fit_image(np.full((144, 144, 3), 7, np.uint8), fit="stimulus")
    assert (whole == 7).all()
    edge = fit_image(np.arange(48 * 48 * 3, dtype=np.uint64).reshape(48, 48, 3).astype(np.uint8), background="edge")
    np.testing.assert_array_equal(edge[0, 48:96], edge[48, 48:96])
    rgb = fit_image(arr, background=[1, 2, 3], crop="pad")
    np.testing.assert_array_equal(rgb[0, 0], [1, 2, 3])
    gray = fit_image(np.full((10, 10), 50, np.uint8))
    assert (gray[72, 72] == 50).all()
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent: the background shows
    assert (fit_image(Image.fromarray(rgba, "RGBA"), background=[9, 9, 9]) == 9).all()
    with pytest.raises(ValueError, match="fit must be one of"):
        fit_image(arr, fit="frame")
    with pytest.raises(ValueError, match="background must be one of"):
        fit_image(arr, background="blue")


def test_conversion_writes_the_thumbnails_layout(tmp_path):
    root = make_folder(tmp_path / "imgs")
    out = image_stimuli(root, tmp_path / "stim.h5", fit="view", background="reflect")
    with StimulusSet(out) as stim:
        assert stim.kind == "images" and stim.n_images == 12 and stim.image_size == FRAME_SIZE
        assert list(stim.categories) == ["object0", "object1", "object2"]
        assert stim.attrs["fit"] == "view" and stim.attrs["source_width"] == 30
        first = stim.image(0)
    listing = list_images(root)
    with Image.open(listing.files[0]) as img:
        np.testing.assert_array_equal(first, fit_image(img, fit="view", background="reflect"))
    import h5py

    with h5py.File(out) as fh:
        assert fh["source_files"][0].decode() == "object0/img0.png"


def test_cli_converts_a_folder(tmp_path, capsys):
    root = make_folder(tmp_path / "imgs")
    assert cli.main(["stimuli", "from-images", str(root), str(tmp_path / "s.h5"), "--background", "0,0,0", "--quiet"]) == 0
    with StimulusSet(tmp_path / "s.h5") as stim:
        np.testing.assert_array_equal(stim.image(0)[0, 0], [0, 0, 0])
    make_folder(tmp_path / "one", n_objects=1)
    assert cli.main(["stimuli", "from-images", str(tmp_path / "one"), str(tmp_path / "t.h5")]) == 2
    assert "needs at least 2 objects" in capsys.readouterr().err


# ----------------------------------------------------------------------------- manifolds


def test_smooth_and_point_cloud_manifolds_from_images_through_a_user_model(tmp_path):
    from dnn_manifolds.generation.collect import collect_shards
    from dnn_manifolds.generation.manifolds import generate_shard

    flat = tmp_path / "templates"
    for k in range(4):
        _image(flat / f"t{k}.png", size=(24, 24), colour=(40 * k, 200 - 40 * k, 90))
    image_stimuli(flat, tmp_path / "t.h5")
    common = dict(network="toy_models:build", preprocessing={"input_size": 16}, layers=["pixels", "features.1", "head"])
    shard = generate_shard(tmp_path / "line.nc", stimuli_path=tmp_path / "t.h5", manifold_kind="1d",
                           transform="x-translation", n_objects=4, n_samples=5, range_factor=8, **common)
    collect_shards([shard], tmp_path / "line_ds.nc")
    with xr.open_dataset(tmp_path / "line_ds.nc", engine="h5netcdf") as ds:
        assert list(ds["session"].values) == ["pixels/x-translation", "features_1/x-translation", "head/x-translation"]
        assert sorted(ds["object_label"].values) == ["t0", "t1", "t2", "t3"]
        assert not np.isnan(ds["tuning"].sel(session="head/x-translation").values[:6]).any()
    root = make_folder(tmp_path / "objs")
    image_stimuli(root, tmp_path / "o.h5")
    shard = generate_shard(tmp_path / "cloud.nc", stimuli_path=tmp_path / "o.h5", manifold_kind="point-cloud",
                           transform="full", n_objects=3, n_samples=4, **common)
    with xr.open_dataset(shard, engine="h5netcdf") as ds:
        assert ds["activation"].shape[1:3] == (3, 4) and not np.isnan(ds["activation"].values).any()
