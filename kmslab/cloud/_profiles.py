"""``kmslab local profiles``: the workshop's AWS CLI profiles, pointed at the local cloud.

The profiles are the ones a learner makes on AWS: ``admin`` and ``bob`` sign with their users' keys;
``alice`` and ``auditor`` are role profiles (``role_arn`` plus ``source_profile``) on the roles the
deployed kit creates (``<prefix>-key-user``, ``<prefix>-auditor``), so the AWS CLI calls
``sts:AssumeRole`` itself, at the profile's ``endpoint_url``, exactly as it does on AWS. Each
profile carries ``region``, ``endpoint_url`` and ``ca_bundle`` (the AWS CLI v1 and v2 read both
from a profile; a role profile's own settings also serve its AssumeRole call).

The config file is rewritten atomically, mode 0600 (it holds secret keys). Only the sections this
command owns are replaced; every other line of the file is kept as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmslab._fsutil import private_dir, write_private_atomic
from kmslab.iam.defaults import KIT_PREFIX

__all__ = ["Profile", "config_path", "merge_profiles", "workshop_profiles", "write_profiles"]

#: the profiles a learner uses
PUBLIC = ("admin", "alice", "bob", "auditor")
#: role profile -> (the kit's role suffix, the user whose keys assume it)
ROLE_PROFILES = {"alice": ("key-user", "alice"), "auditor": ("auditor", "auditor")}
_SECTION = re.compile(r"^\s*\[\s*(?P<name>[^\]]+?)\s*\]\s*$")


@dataclass(frozen=True)
class Profile:
    """One AWS CLI profile section.

    Args:
        name: the profile name (``[profile NAME]`` in the config file).
        settings: its settings, in order.
    """

    name: str
    settings: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:  # never show the secret key
        return f"Profile({self.name!r}, keys={[k for k, _ in self.settings]})"

    def render(self) -> str:
        """Return the section as config-file text.

        Returns:
            ``[profile NAME]`` then one ``key = value`` line per setting.
        """
        lines = [f"[profile {self.name}]"]
        for key, value in self.settings:  # a nested block (``s3 =`` then indented lines) has a value starting "\n"
            lines.append(f"{key} ={value}" if value.startswith("\n") else f"{key} = {value}")
        return "\n".join(lines) + "\n"


def config_path(given: str | None) -> Path:
    """Return the AWS CLI config file to write.

    Args:
        given: ``--config-file``, if any.

    Returns:
        ``given``, else ``$AWS_CONFIG_FILE``, else ``~/.aws/config``.
    """
    raw = given or os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    return Path(raw).expanduser()


def base_profile(user: str) -> str:
    """Name the hidden profile that holds a role profile's source user keys.

    Args:
        user: the workshop user (``alice``, ``auditor``).

    Returns:
        E.g. ``kmslab-alice-user``.
    """
    return f"kmslab-{user}-user"


def role_arn(account: str, profile: str, prefix: str = KIT_PREFIX) -> str:
    """Return the kit role a role profile assumes.

    Args:
        account: the account ID.
        profile: ``alice`` or ``auditor``.
        prefix: the kit's name prefix.

    Returns:
        The role ARN.
    """
    return f"arn:aws:iam::{account}:role/{prefix}-{ROLE_PROFILES[profile][0]}"


def workshop_profiles(
    *, identities: Mapping[str, Any], endpoint: str, ca_bundle: str | None, region: str, prefix: str = KIT_PREFIX
) -> list[Profile]:
    """Build the workshop's profiles from the local cloud's identities.

    Args:
        identities: identities-file data (``account``, ``identities``).
        endpoint: the local cloud's URL.
        ca_bundle: its CA file (None over plain HTTP).
        region: the region.
        prefix: the kit's name prefix (the roles are ``<prefix>-key-user`` and ``<prefix>-auditor``).

    Returns:
        The base profiles first, then ``admin``, ``alice``, ``bob``, ``auditor``.

    Raises:
        KeyError: a workshop user is missing from the identities.
    """
    account = str(identities.get("account"))
    users = {str(item.get("arn", "")).rsplit("/", 1)[-1]: item for item in identities.get("identities", [])}
    common: list[tuple[str, str]] = [("region", region), ("endpoint_url", endpoint)]
    if ca_bundle:
        common.append(("ca_bundle", ca_bundle))
    # The AWS CLI v1 presigns S3 URLs with Signature Version 2 unless told otherwise, and S3 refuses SigV2 for
    # SSE-KMS objects (on AWS as here); v2 always uses SigV4. The workshop's objects are SSE-KMS.
    common.append(("s3", "\n    signature_version = s3v4"))

    def keys(user: str) -> list[tuple[str, str]]:
        if user not in users:
            raise KeyError(user)
        item = users[user]
        return [
            ("aws_access_key_id", str(item["access_key_id"])),
            ("aws_secret_access_key", str(item["secret_access_key"])),
        ]

    profiles = [Profile(base_profile(user), tuple(common + keys(user))) for _, user in ROLE_PROFILES.values()]
    for name in PUBLIC:
        if name in ROLE_PROFILES:
            role = [("role_arn", role_arn(account, name, prefix)), ("source_profile", base_profile(name))]
            profiles.append(Profile(name, tuple(role + [("role_session_name", name)] + common)))
        else:
            profiles.append(Profile(name, tuple(common + keys(name))))
    return profiles


def _section_name(line: str) -> str | None:
    match = _SECTION.match(line)
    if match is None:
        return None
    name = match.group("name")
    return name[len("profile ") :].strip() if name.startswith("profile ") else name


def merge_profiles(text: str, profiles: Sequence[Profile]) -> str:
    """Replace the given profiles' sections in config-file text, keeping everything else.

    Args:
        text: the current file (may be empty).
        profiles: the sections to write (an existing section of the same name is dropped, wherever it is).

    Returns:
        The new file text: the kept lines, then the profiles.
    """
    owned = {profile.name for profile in profiles}
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        name = _section_name(line)
        if name is not None:
            skipping = name in owned
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    head = "\n".join(kept) + "\n\n" if kept else ""
    return head + "\n".join(profile.render() for profile in profiles)


def write_profiles(path: Path, profiles: Sequence[Profile]) -> Path:
    """Write the profiles into the config file (created with its directory if missing; mode 0600).

    Args:
        path: the AWS CLI config file.
        profiles: the sections to write.

    Returns:
        The file written (a symbolic link's target).

    Raises:
        OSError: the file cannot be read or written.
    """
    target = path.resolve() if path.is_symlink() else path
    private_dir(target.parent)
    try:
        current = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    write_private_atomic(target, merge_profiles(current, profiles).encode("utf-8"))
    return target
