"""Pack the ISBI 2012 membrane slices into the course's archive, byte for byte repeatable.

    .venv/bin/python tools/make_isbi_archive.py SOURCE [--out datasets/isbi2012-membrane.tar.gz]

SOURCE holds ``train/image/N.png``, ``train/label/N.png`` and ``test/image/N.png``
(N = 0..29), e.g. ``$COURSEKIT_DATA/isbi2012-membrane``. The archive holds them under
``isbi2012-membrane/`` with fixed dates, owners and modes and in sorted order, so the same
slices always give the same bytes and the SHA-256 in ``coursekit/membranes.py`` (printed
here) stays valid.
"""

import argparse
import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

EXPECTED = [f"{split}/{kind}/{index}.png" for split, kinds in
            (("train", ("image", "label")), ("test", ("image",)))
            for kind in kinds for index in range(30)]


def build(source: Path) -> bytes:
    missing = [name for name in EXPECTED if not (source / name).is_file()]
    if missing:
        raise SystemExit(f"SOURCE: expected the 90 slices of ISBI 2012, {missing[0]} is missing")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name in sorted(EXPECTED):
                data = (source / name).read_bytes()
                info = tarfile.TarInfo(f"isbi2012-membrane/{name}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=Path("datasets/isbi2012-membrane.tar.gz"))
    args = parser.parse_args(argv)
    data = build(args.source)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
