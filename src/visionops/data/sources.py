"""Where each dataset comes from: files, pinned checksums, mirrors, official URLs and class names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from visionops.core.errors import UserError


@dataclass(frozen=True)
class IdxSource:
    """An IDX dataset published as four gzip files; sha256 is of the decompressed bytes."""

    name: str
    sha256: dict[str, str]
    urls: tuple[str, ...]
    mirror_env: str
    default_mirror: str | None
    classes: tuple[str, ...]

    def mirror_dirs(self) -> list[Path]:
        """Local mirrors to try: the one the environment names, alone, else the default one."""
        if self.mirror_env in os.environ:  # the user's own mirror: a mistake in it must not fall back silently
            chosen = os.environ[self.mirror_env]
            if not chosen.strip():
                raise UserError(
                    f"{self.mirror_env} is set but empty; unset it, or set it to a folder holding the files"
                )
            if not Path(chosen).is_dir():
                raise UserError(f"{self.mirror_env}={chosen} is not a folder; point it at the folder holding the files")
            return [Path(chosen)]
        return [Path(self.default_mirror)] if self.default_mirror else []


FASHION_MNIST = IdxSource(
    name="fashion_mnist",
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    urls=(  # https first; the S3 website serves http only (the pinned SHA-256 checks either)
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    mirror_env="VISIONOPS_FMNIST_DIR",
    default_mirror="/usr/share/datasets/fashion-mnist",
    classes=("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"),
)

MNIST = IdxSource(
    name="mnist",
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
    mirror_env="VISIONOPS_MNIST_DIR",
    default_mirror=None,  # no Debian package ships MNIST
    classes=tuple(str(d) for d in range(10)),
)

IDX_SOURCES = {s.name: s for s in (FASHION_MNIST, MNIST)}


def idx_source(dataset: str) -> IdxSource:
    try:
        return IDX_SOURCES[dataset]
    except KeyError:
        raise UserError(f"data.dataset '{dataset}' has no IDX source (known: {', '.join(IDX_SOURCES)})") from None
