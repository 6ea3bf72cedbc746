r"""Resumable, verified download of the ImageNet 64px thumbnails from figshare.

Hand-written on the standard library (``urllib``) rather than a download library: it resumes
with HTTP ``Range`` requests, retries with back-off, verifies size and MD5/SHA-256, and renames
atomically, which is all the pipeline needs and is tested against a local HTTP server.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import UserError
from ..validation import check_int as _check_int
from .stimuli import FIGSHARE_API_URL, THUMBNAILS_DOI, THUMBNAILS_NAME


def figshare_file_info(
    api_url: str = FIGSHARE_API_URL, name: str = THUMBNAILS_NAME, *, timeout: float = 60
) -> dict[str, Any]:
    """Look a file up in a figshare item's API record.

    Returns
    -------
    dict
        ``url`` (download URL), ``size`` (bytes) and ``md5`` (hex) of the file ``name``.

    Raises
    ------
    OSError
        If the record cannot be fetched (no network: use a local copy via ``thumbnails_path``).
    ValueError
        If the item has no file of that name.
    """
    try:
        with urllib.request.urlopen(api_url, timeout=timeout) as resp:
            record = json.loads(resp.read().decode())
    except (urllib.error.URLError, socket.timeout, http.client.HTTPException) as err:
        raise OSError(
            f"cannot reach the figshare record {api_url} ({err}); without network, download "
            f"{THUMBNAILS_NAME} (DOI {THUMBNAILS_DOI}) elsewhere and pass its path"
        ) from err
    for entry in record.get("files", []):
        if entry.get("name") == name:
            return {
                "url": entry["download_url"],
                "size": int(entry["size"]) if entry.get("size") is not None else None,
                "md5": entry.get("computed_md5") or entry.get("supplied_md5") or None,
            }
    names = [e.get("name") for e in record.get("files", [])]
    raise UserError(f"figshare item {api_url} has no file {name!r}; files: {names}")


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 5,
    timeout: float = 60,
    chunk_size: int = 1 << 20,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download a file with resume, retries, verification and an atomic final rename.

    Parameters
    ----------
    url : str
        Source URL (http or https).
    dest : path-like
        Final file. Bytes go to ``<dest>.part`` first; a ``.part`` left by an interrupted run is
        resumed with an HTTP ``Range`` request. Only after the size and checksums are verified
        is it renamed to ``dest``.
    size : int, optional
        Expected size in bytes (also taken from the server's headers when not given).
    md5, sha256 : str, optional
        Expected hex digests.
    retries : int, default 5
        Attempts after the first one, on network errors and HTTP 5xx, each resuming where the
        previous stopped; waits ``backoff * 2**k`` seconds between attempts.
    timeout : float, default 60
        Socket timeout, seconds.
    chunk_size : int
        Bytes per read.
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ValueError
        On a size or checksum mismatch. The ``.part`` file is deleted (resuming cannot fix
        corrupt bytes), so the next run starts afresh.
    OSError
        If the download keeps failing after all retries (the ``.part`` is kept for resuming),
        or on an HTTP client error (4xx).
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.exists():
        _verify(dest, size=size, md5=md5, sha256=sha256, remove=False)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    retries = _check_int(retries, "retries", minimum=0)
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        offset = part.stat().st_size if part.exists() else 0
        if size is not None and offset > size:
            part.unlink()
            offset = 0
        if size is not None and offset == size:
            break
        request = urllib.request.Request(url, headers={"User-Agent": f"dnn-manifolds/{__version__}"})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            with contextlib.ExitStack() as stack:
                try:
                    resp = stack.enter_context(urllib.request.urlopen(request, timeout=timeout))
                except urllib.error.HTTPError as err:
                    if err.code == 416 and offset:  # nothing left to send: complete or stale
                        total = _content_range_total(err.headers.get("Content-Range"))
                        if total is not None and total == offset:
                            size = size if size is not None else total
                            break
                        part.unlink()
                        raise _Retry(f"server refused to resume at byte {offset}") from err
                    if 400 <= err.code < 500:
                        raise OSError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
                    raise _Retry(f"HTTP {err.code} {err.reason}") from err
                status = resp.status
                if offset and status == 206:
                    start = _content_range_start(resp.headers.get("Content-Range"))
                    if start != offset:
                        raise _Retry(f"server resumed at byte {start}, not {offset}")
                    total = _content_range_total(resp.headers.get("Content-Range"))
                    mode = "ab"
                else:  # 200: the server sends everything (it ignored or did not get a Range)
                    offset = 0
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                    mode = "wb"
                if size is None and total is not None:
                    size = total
                elif size is not None and total is not None and total != size:
                    raise UserError(
                        f"server reports {total} bytes for {url}, expected size={size}"
                    )
                bar = stack.enter_context(
                    tqdm(total=size, initial=offset, unit="B", unit_scale=True,
                         desc=dest.name, disable=not progress, leave=False)
                )
                with open(part, mode) as fh:
                    while True:
                        chunk = resp.read(chunk_size)
                        if not chunk:
                            break
                        fh.write(chunk)
                        bar.update(len(chunk))
                    fh.flush()
                    os.fsync(fh.fileno())
            got = part.stat().st_size
            if size is not None and got < size:
                raise _Retry(f"connection closed after {got} of {size} bytes")
            break
        except (_Retry, urllib.error.URLError, socket.timeout, ConnectionError,
                http.client.HTTPException, TimeoutError) as err:
            last_error = err
            continue
    else:
        raise OSError(
            f"download of {url} failed after {retries + 1} attempts ({last_error}); "
            f"{part.name} is kept and the next run resumes it"
        )
    _verify(part, size=size, md5=md5, sha256=sha256, remove=True)
    os.replace(part, dest)
    return dest


class _Retry(Exception):
    """A transient failure: try again, resuming."""


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    if not value or not value.startswith("bytes "):
        return None
    rng = value[6:].split("/")[0]
    return int(rng.split("-")[0]) if rng != "*" else None


def _content_range_total(value: str | None) -> int | None:
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1]
    return int(total) if total.isdigit() else None


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (read in 1 MiB blocks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, *, size, md5, sha256, remove: bool) -> None:
    problems = []
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        problems.append(f"size {got_size} bytes, expected {size}")
    for algo, expected in (("md5", md5), ("sha256", sha256)):
        if expected and not problems:
            got = file_digest(path, algo)
            if got.lower() != expected.lower():
                problems.append(f"{algo} {got}, expected {expected}")
    if problems:
        if remove:
            path.unlink()
        raise UserError(
            f"{path.name}: verification failed: {'; '.join(problems)}"
            + ("; the partial download was removed, run again to download afresh" if remove
               else "; delete the file and download again")
        )


def download_thumbnails(
    dest: str | os.PathLike,
    *,
    api_url: str = FIGSHARE_API_URL,
    url: str | None = None,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 5,
    timeout: float = 60,
    progress: bool = True,
) -> Path:
    """Download ``imagenet_all_thumbnails_64px.mat`` from figshare (resumable, verified).

    Parameters
    ----------
    dest : path-like
        Output file, or an existing directory (the file name is then :data:`THUMBNAILS_NAME`).
    api_url : str
        figshare API record of DOI 10.6084/m9.figshare.11494314; it gives the file's download
        URL, size and MD5, which are then verified. Ignored when ``url`` is given.
    url, size, md5, sha256 : optional
        Download this URL directly, checking the given size/digests.
    retries, timeout, progress
        See :func:`download_file`.

    Returns
    -------
    Path
        The verified thumbnails file. Then pass it as ``stimuli_path`` (or
        ``thumbnails_path``) to the generation functions.
    """
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / THUMBNAILS_NAME
    if url is None:
        info = figshare_file_info(api_url, THUMBNAILS_NAME, timeout=timeout)
        url = info["url"]
        size = size if size is not None else info["size"]
        md5 = md5 or info["md5"]
    return download_file(url, dest, size=size, md5=md5, sha256=sha256, retries=retries,
                         timeout=timeout, progress=progress)
