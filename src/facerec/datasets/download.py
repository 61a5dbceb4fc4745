"""Download LFW (images archive and protocol files): checksums verified, partial downloads resumed,
extracted to the layout ``facerec evaluate lfw`` reads::

    DIR/lfw/Name/Name_0001.jpg      images
    DIR/pairs.txt                   View 2
    DIR/pairsDevTrain.txt           View 1 (training)
    DIR/pairsDevTest.txt            View 1 (test)
    DIR/lfw-names.txt

Each file lists its official location and mirrors (figshare, as scikit-learn uses); the first
that serves a file matching the pinned checksum wins. A file that does not match is refused
and deleted, never extracted.
"""
from __future__ import annotations

import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from facerec.errors import FacerecError
from facerec.io.download import ATTEMPTS, download_verified
from facerec.types import Progress

"""``(label, bytes done, total bytes or None)``."""

_UMASS = "http://vis-www.cs.umass.edu/lfw"
_FIGSHARE = "https://ndownloader.figshare.com/files"


@dataclass(frozen=True)
class RemoteFile:
    """A file, where to get it, and its pinned checksum (``"sha256:<hex>"`` or ``"md5:<hex>"``)."""

    name: str
    urls: tuple[str, ...]
    checksum: str


LFW_ARCHIVES: dict[str, RemoteFile] = {
    # md5 as pinned by torchvision.datasets.LFWPeople (the UMass site publishes no SHA-256)
    "deepfunneled": RemoteFile("lfw-deepfunneled.tgz",
                               (f"{_UMASS}/lfw-deepfunneled.tgz", "https://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"),
                               "md5:68331da3eb755a505a502b5aacb3c201"),
    # sha256 as pinned by scikit-learn's fetch_lfw_* (figshare mirror)
    "funneled": RemoteFile("lfw-funneled.tgz", (f"{_FIGSHARE}/5976015", f"{_UMASS}/lfw-funneled.tgz"),
                           "sha256:b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a"),
    "original": RemoteFile("lfw.tgz", (f"{_FIGSHARE}/5976018", f"{_UMASS}/lfw.tgz"),
                           "sha256:055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0"),
}
LFW_PROTOCOL: tuple[RemoteFile, ...] = (
    RemoteFile("pairs.txt", (f"{_FIGSHARE}/5976006", f"{_UMASS}/pairs.txt"),
               "sha256:ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592"),
    RemoteFile("pairsDevTrain.txt", (f"{_FIGSHARE}/5976012", f"{_UMASS}/pairsDevTrain.txt"),
               "sha256:1d454dada7dfeca0e7eab6f65dc4e97a6312d44cf142207be28d688be92aabfa"),
    RemoteFile("pairsDevTest.txt", (f"{_FIGSHARE}/5976009", f"{_UMASS}/pairsDevTest.txt"),
               "sha256:7cb06600ea8b2814ac26e946201cdb304296262aad67d046a16a7ec85d0ff87c"),
    RemoteFile("lfw-names.txt", (f"{_UMASS}/lfw-names.txt",), "md5:a6d0a479bd074669f656265a6e693f6d"),
)


def download_file(remote: RemoteFile, dest: Path, on_progress: Optional[Progress] = None,
                  base_url: Optional[str] = None, attempts: int = ATTEMPTS) -> Path:
    """``dest`` holding ``remote`` with its checksum verified (kept if already there).

    A partial ``dest.part`` left by an interrupted run is resumed (HTTP Range). Network errors
    are retried, resuming; a file whose checksum does not match is deleted and refused.
    """
    urls = ((f"{base_url.rstrip('/')}/{remote.name}",) if base_url else ()) + remote.urls
    return download_verified(urls, dest, remote.checksum, remote.name, on_progress, attempts)


def _person_root(tmp: Path) -> Path:
    """The folder of the extracted archive that holds one folder per person."""
    subdirs = [d for d in tmp.iterdir() if d.is_dir()]
    if len(subdirs) == 1 and any(c.is_dir() for c in subdirs[0].iterdir()):
        return subdirs[0]
    return tmp


def _plain_members(tar: tarfile.TarFile, into: Path) -> list[tarfile.TarInfo]:
    """The archive's files and folders, each landing inside ``into`` (an older Python has no
    ``filter="data"``): anything else (links, devices, absolute or escaping paths) is a TarError."""
    base = into.resolve()
    members = []
    for member in tar.getmembers():
        dest = (base / member.name).resolve()
        if not (member.isfile() or member.isdir()) or os.path.isabs(member.name) or \
                (dest != base and base not in dest.parents):
            raise tarfile.TarError(f"{member.name!r} is not a plain file inside the archive's folder")
        members.append(member)
    return members


def extract_archive(archive: Path, target: Path) -> Path:
    """Extract a .tgz safely (no absolute paths, links or escapes) so ``target/Name/*.jpg`` exist."""
    marker = target / ".facerec-complete"
    if marker.is_file() and marker.read_text().strip() == archive.name:
        return target
    tmp = target.parent / f".{target.name}.extracting"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+: the standard library's own check
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp, members=_plain_members(tar, tmp))
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FacerecError(f"{archive.name}: cannot extract ({exc})") from None
    root = _person_root(tmp)
    if target.exists():
        shutil.rmtree(target)
    os.replace(root, target)
    shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text(archive.name + "\n")
    return target


def download_lfw(directory: os.PathLike | str, variant: str = "deepfunneled", base_url: Optional[str] = None,
                 on_progress: Optional[Progress] = None, keep_archive: bool = True,
                 archives: Optional[dict[str, RemoteFile]] = None,
                 protocol: Optional[tuple[RemoteFile, ...]] = None) -> dict:
    """Fetch LFW into ``directory`` (see the module docstring); returns where everything is."""
    archives = LFW_ARCHIVES if archives is None else archives
    protocol = LFW_PROTOCOL if protocol is None else protocol
    if variant not in archives:
        raise FacerecError(f"unknown LFW variant {variant!r}; choose one of: {', '.join(archives)}")
    root = Path(directory)
    files = {r.name: str(download_file(r, root / r.name, on_progress, base_url)) for r in protocol}
    remote = archives[variant]
    archive = download_file(remote, root / remote.name, on_progress, base_url)
    images = extract_archive(archive, root / "lfw")
    if not keep_archive:
        archive.unlink()
    count = sum(1 for _ in images.rglob("*.jpg"))
    return {"variant": variant, "images": str(images), "image_count": count,
            "pairs": files.get("pairs.txt", ""), "files": files, "archive": str(archive) if keep_archive else None}
