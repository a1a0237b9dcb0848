"""Canned ACLs as S3 shows them: the ``AccessControlPolicy`` of GetBucketAcl and GetObjectAcl.

The local S3 keeps an ACL as its canned name. The grants each canned ACL stands for are those of the
S3 User Guide ("Access control list (ACL) overview", Canned ACL): the owner always has
``FULL_CONTROL``; ``public-read`` adds ``READ`` for AllUsers, ``public-read-write`` adds ``READ`` and
``WRITE``, ``authenticated-read`` adds ``READ`` for AuthenticatedUsers, and ``log-delivery-write``
gives the LogDelivery group ``WRITE`` and ``READ_ACP``. In one account, ``bucket-owner-read`` and
``bucket-owner-full-control`` come down to the owner's grant alone.
"""

from __future__ import annotations

from kmslab.cloud.errors import xml_text
from kmslab.cloud.s3._wire import NS

_GROUPS = "http://acs.amazonaws.com/groups/"
_XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'

#: canned ACL -> the grants it adds to the owner's FULL_CONTROL: (group, permission)
_EXTRA: dict[str, tuple[tuple[str, str], ...]] = {
    "public-read": (("global/AllUsers", "READ"),),
    "public-read-write": (("global/AllUsers", "READ"), ("global/AllUsers", "WRITE")),
    "authenticated-read": (("global/AuthenticatedUsers", "READ"),),
    "log-delivery-write": (("s3/LogDelivery", "WRITE"), ("s3/LogDelivery", "READ_ACP")),
}


def access_control_policy(owner: str, canned: str) -> str:
    """Return the ``AccessControlPolicy`` XML of a canned ACL.

    Args:
        owner: the owner's canonical user ID.
        canned: the canned ACL.

    Returns:
        The XML document.
    """
    owner_id = xml_text(owner)
    grants = [
        f'<Grant><Grantee {_XSI} xsi:type="CanonicalUser"><ID>{owner_id}</ID></Grantee>'
        "<Permission>FULL_CONTROL</Permission></Grant>"
    ]
    grants += [
        f'<Grant><Grantee {_XSI} xsi:type="Group"><URI>{_GROUPS}{group}</URI></Grantee>'
        f"<Permission>{permission}</Permission></Grant>"
        for group, permission in _EXTRA.get(canned, ())
    ]
    return (
        f'<AccessControlPolicy xmlns="{NS}"><Owner><ID>{owner_id}</ID></Owner>'
        f"<AccessControlList>{''.join(grants)}</AccessControlList></AccessControlPolicy>"
    )
