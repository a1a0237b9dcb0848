"""A Lambda function's code and layers, unpacked once per content digest into a private folder."""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

from kmslab.cloud.alerts import _moto
from kmslab.cloud.errors import CloudError


class CodeCache:
    """Unpack function zips and layer zips (moto keeps their bytes) under one folder.

    Args:
        root: the private folder (``mkdtemp``: readable by the cloud's user only).
        account: the cloud's account.
    """

    def __init__(self, root: Path, account: str) -> None:
        self._root = root
        self.account = account
        self._lock = threading.Lock()

    def unpack(self, function: Any) -> tuple[Path, list[Path]]:
        """Return the function's code folder and the ``sys.path`` folders (code first, then layers).

        Args:
            function: moto's function.

        Returns:
            ``(code folder, path folders)``.

        Raises:
            CloudError: there is no code, or a zip is unsafe.
        """
        code = bytes(getattr(function, "code_bytes", b"") or b"")
        if not code:
            raise CloudError(
                "InvalidParameterValueException", f"The local Lambda has no code for {function.function_name}."
            )
        layers: list[bytes] = []
        backend = _moto.backend_or_none("moto.awslambda.models", "lambda_backends", self.account, function.region)
        for layer in getattr(function, "layers", []):
            version = backend.layers_versions_by_arn(layer["Arn"]) if backend is not None else None
            layers.append(bytes(getattr(version, "code_bytes", b"") or b""))
        code_dir = self._extract(code)
        paths = [code_dir]
        for blob in layers:
            folder = self._extract(blob)
            # a layer's content is under /opt; Python finds /opt/python and /opt/python/lib/pythonX.Y/site-packages
            paths += [
                folder / "python",
                folder
                / "python"
                / "lib"
                / f"python{sys.version_info.major}.{sys.version_info.minor}"
                / "site-packages",
            ]
        return code_dir, paths

    def _extract(self, blob: bytes) -> Path:
        digest = hashlib.sha256(blob).hexdigest()
        folder = self._root / digest[:32]
        with self._lock:
            if not folder.is_dir():
                partial = self._root / (digest[:32] + ".partial")
                shutil.rmtree(partial, ignore_errors=True)
                try:
                    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                        base = partial.resolve()
                        for member in archive.infolist():
                            if not (partial / member.filename).resolve().is_relative_to(base):
                                raise CloudError(
                                    "InvalidParameterValueException", "The code zip has a path outside its root."
                                )
                        archive.extractall(partial)
                except zipfile.BadZipFile:
                    shutil.rmtree(partial, ignore_errors=True)
                    raise CloudError(
                        "InvalidParameterValueException", "The function's code or a layer is not a valid zip file."
                    ) from None
                partial.rename(folder)
        return folder
