"""A throwaway service-account key for signing V4 URLs locally (Cloud Functions use IAM signBlob).

The storage emulator does not check signatures; the Instagram sandbox checks that the URL is a
well-formed, unexpired V4 signed URL and fetches the bytes through it.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_local_signing_key(path: Path, project: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "local-signing-key",
        "private_key": pem,
        "client_email": f"postgate-local@{project}.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info), encoding="utf-8")
    path.chmod(0o600)
    return path
