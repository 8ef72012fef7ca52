"""Signatures a third party can check: DSSE envelopes over the audit's in-toto Statement, and OpenSSF model
signatures that a bundle carries.

Nothing here is hand-rolled crypto:

* the attestation is a DSSE envelope built, signed and verified by ``securesystemslib``
  (:class:`securesystemslib.dsse.Envelope`, :class:`securesystemslib.signer.CryptoSigner`,
  :class:`securesystemslib.signer.SSlibKey`), with a PEM key (Ed25519 or ECDSA P-256/P-384) read by
  ``cryptography``;
* a model signature is an OpenSSF model-signing bundle (``model-signing`` on PyPI, optional extra
  ``trustaudit[signing]``), verified by :mod:`model_signing.verifying` with the public key (or certificate chain)
  the *auditor* trusts. A key the bundle names is only a hint: a bundle that ships its own key proves that its
  files match its signature, not who signed it (anyone who changes the model can re-sign it with a new key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustaudit.errors import TrustAuditError

if TYPE_CHECKING:
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey

#: DSSE payload type of an in-toto Statement (in-toto attestation framework, envelope layer).
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
#: Environment variable holding the passphrase of an encrypted signing key.
PASSWORD_ENV = "TRUSTAUDIT_SIGN_KEY_PASSWORD"


class SigningError(TrustAuditError):
    """A key cannot be read, or a signature cannot be made or read."""


def _crypto() -> None:
    import importlib.util

    if importlib.util.find_spec("securesystemslib") is None or importlib.util.find_spec("cryptography") is None:
        raise SigningError("signing needs securesystemslib and cryptography: pip install 'securesystemslib[crypto]'")


def _read(path: str | Path, what: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise SigningError(f"{what} {p} does not exist") from None
    except IsADirectoryError:
        raise SigningError(f"{what} {p} is a directory, not a PEM file") from None
    except OSError as exc:
        raise SigningError(f"cannot read {what} {p}: {exc.strerror or exc}") from None


def _check_key_type(key: Any, path: Path, what: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if key.curve.name in ("secp256r1", "secp384r1"):
            return
        raise SigningError(f"{what} {path}: ECDSA curve {key.curve.name} is not supported (use P-256 or P-384)")
    raise SigningError(f"{what} {path}: a {type(key).__name__} is not supported; use an Ed25519 or ECDSA P-256 key")


def load_signer(path: str | Path, password: str | None = None) -> CryptoSigner:
    """A securesystemslib signer for a PEM (PKCS#8 or traditional) Ed25519 / ECDSA P-256 private key.

    An encrypted key is opened with ``password`` or the ``TRUSTAUDIT_SIGN_KEY_PASSWORD`` environment variable.
    """
    _crypto()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    p = Path(path)
    data = _read(p, "signing key")
    pw = password if password is not None else os.environ.get(PASSWORD_ENV)
    try:
        key = load_pem_private_key(data, password=pw.encode() if pw else None)
    except TypeError as exc:  # encrypted without a password, or a password for a plain key
        hint = f"set {PASSWORD_ENV}" if "encrypted" in str(exc) and not pw else "unset the password"
        raise SigningError(f"signing key {p}: {str(exc).rstrip('.')} ({hint})") from None
    except ValueError:
        if b"PUBLIC KEY" in data:
            raise SigningError(f"signing key {p} is a public key; --sign-key takes the private key") from None
        raise SigningError(f"signing key {p} is not a PEM private key (or its password is wrong)") from None
    _check_key_type(key, p, "signing key")
    return CryptoSigner(key)


def load_public_key(path: str | Path) -> SSlibKey:
    """The securesystemslib key of a PEM (SubjectPublicKeyInfo) Ed25519 / ECDSA public key."""
    _crypto()
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    p = Path(path)
    data = _read(p, "public key")
    if b"PRIVATE KEY" in data:
        raise SigningError(f"{p} is a private key; verify with the public key (trustaudit keygen writes both)")
    try:
        key = load_pem_public_key(data)
    except ValueError:
        raise SigningError(f"public key {p} is not a PEM public key") from None
    _check_key_type(key, p, "public key")
    return SSlibKey.from_crypto(key)


def public_key_pem(key: SSlibKey) -> str:
    """The PEM of a securesystemslib key (its ``keyval.public``)."""
    return str(key.keyval["public"])


def fingerprint(pem: str | bytes) -> str:
    """``sha256:<hex>`` of a PEM public key's text: the identifier OpenSSF model-signing uses as the key hint."""
    data = pem.encode() if isinstance(pem, str) else pem
    return "sha256:" + hashlib.sha256(data).hexdigest()


def key_fingerprint(path: str | Path) -> str | None:
    """:func:`fingerprint` of a PEM public key file, re-encoded as model-signing does (None when unreadable)."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    return fingerprint(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def sign_statement(statement: dict[str, Any], signer: CryptoSigner) -> dict[str, Any]:
    """A DSSE envelope (JSON-ready dict) whose payload is ``statement`` and which ``signer`` signed."""
    from securesystemslib.dsse import Envelope

    payload = (json.dumps(statement, indent=2) + "\n").encode("utf-8")
    env = Envelope(payload=payload, payload_type=INTOTO_PAYLOAD_TYPE, signatures={})
    env.sign(signer)
    return dict(env.to_dict())


def is_envelope(doc: Any) -> bool:
    return isinstance(doc, dict) and "payloadType" in doc and "payload" in doc


def read_envelope(doc: dict[str, Any], source: str) -> Envelope:
    """Parse a DSSE envelope; raise :class:`SigningError` (one line) when it is not one."""
    _crypto()
    from securesystemslib.dsse import Envelope

    sigs = doc.get("signatures")
    if not isinstance(sigs, list) or not all(isinstance(s, dict) for s in sigs):
        raise SigningError(f"{source}: a DSSE envelope needs a 'signatures' list")
    try:
        return Envelope.from_dict(json.loads(json.dumps(doc)))  # from_dict edits the dict: hand it a copy
    except (KeyError, TypeError, ValueError, base64.binascii.Error) as exc:  # type: ignore[attr-defined]
        raise SigningError(f"{source}: not a valid DSSE envelope ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # securesystemslib FormatError and friends
        raise SigningError(f"{source}: not a valid DSSE envelope ({type(exc).__name__}: {exc})") from None


def envelope_problem(env: Envelope, key: SSlibKey, key_name: str) -> str | None:
    """Why the envelope's signature does not verify with ``key`` (None when it does)."""
    from securesystemslib.exceptions import VerificationError

    if env.payload_type != INTOTO_PAYLOAD_TYPE:
        return f"envelope signature: payloadType {env.payload_type!r} is not {INTOTO_PAYLOAD_TYPE}"
    if key.keyid not in env.signatures:
        ids = ", ".join(k[:12] for k in env.signatures) or "none"
        return (f"envelope signature: not signed by {key_name} (key id {key.keyid[:12]}); "
                f"signed by key id(s) {ids}: wrong key")
    try:
        env.verify([key], 1)
    except VerificationError:
        return f"envelope signature: does not verify with {key_name}: the envelope was changed after signing"
    return None


def generate_keypair(private_path: str | Path, public_path: str | Path, kind: str = "ed25519") -> str:
    """Write a new private key (PKCS#8 PEM, mode 0600) and its public key; return the public key's fingerprint.

    ``kind``: ``ed25519`` (DSSE attestations) or ``ecdsa`` (P-256: also usable with OpenSSF model-signing).
    """
    _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key: Any
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind in ("ecdsa", "p256", "ecdsa-p256"):
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise SigningError(f"key type {kind!r}: use ed25519 or ecdsa")
    priv, pub = Path(private_path), Path(public_path)
    if priv.exists():
        raise SigningError(f"{priv} exists; refusing to overwrite a private key")
    priv_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    pub_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    priv.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(priv_pem)
    pub.parent.mkdir(parents=True, exist_ok=True)
    pub.write_bytes(pub_pem)
    return fingerprint(pub_pem)


# -- OpenSSF model signatures ------------------------------------------------------------------------------


@dataclass
class ModelSignature:
    """The outcome of verifying one OpenSSF model-signing signature."""

    signature: str  # bundle path of the signature file
    model: str  # bundle path of the signed file or directory
    method: str  # key | certificate
    verified: bool = False  # the signature verified and the files match it
    trusted: bool = False  # ... with a key / chain the auditor supplied (not only one the bundle names)
    signer: str | None = None  # key fingerprint or certificate subject
    trusted_by: str | None = None  # what it was verified with
    files: list[str] = field(default_factory=list)  # what the signature covers (its in-toto subjects)
    problem: str | None = None  # why it does not verify

    def as_dict(self) -> dict[str, Any]:
        return {"signature": self.signature, "model": self.model, "method": self.method, "verified": self.verified,
                "trusted": self.trusted, "signer": self.signer, "trusted_by": self.trusted_by,
                "files": self.files, "problem": self.problem}


def _model_signing() -> None:
    import importlib.util

    if importlib.util.find_spec("model_signing") is None:
        raise SigningError("verifying an OpenSSF model signature needs model-signing: "
                           "pip install 'trustaudit[signing]'")


def read_model_signature(sig_path: Path) -> tuple[str | None, list[str]]:
    """(signer, signed files) read from a model-signing bundle (Sigstore bundle JSON) without verifying it:
    the key hint (``sha256:<hex>`` of the public key PEM) or the leaf certificate's subject, and the subjects of
    its in-toto Statement."""
    try:
        doc = json.loads(sig_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SigningError(f"model signature {sig_path.name} is not a model-signing bundle (JSON): {exc}") from None
    if not isinstance(doc, dict):
        raise SigningError(f"model signature {sig_path.name} is not a model-signing bundle")

    def _get(d: Any, key: str) -> Any:
        return d.get(key) if isinstance(d, dict) else None

    vm = _get(doc, "verificationMaterial")
    signer: str | None = None
    hint = _get(_get(vm, "publicKey"), "hint")
    certs = _get(_get(vm, "x509CertificateChain"), "certificates")
    first = certs[0] if isinstance(certs, list) and certs else None
    cert = _get(_get(vm, "certificate"), "rawBytes") or _get(first, "rawBytes")
    if not isinstance(hint, str):
        hint = None
    if not isinstance(cert, str):
        cert = None
    if hint:
        signer = f"key sha256:{hint}"
    elif cert:
        try:
            from cryptography import x509

            signer = "certificate " + x509.load_der_x509_certificate(base64.b64decode(cert)).subject.rfc4514_string()
        except Exception:
            signer = "certificate (unreadable)"
    files: list[str] = []
    try:
        payload = json.loads(base64.b64decode((doc.get("dsseEnvelope") or {}).get("payload", "")))
        files = sorted(str(s.get("name")) for s in payload.get("subject") or [] if isinstance(s, dict))
    except Exception:
        files = []
    return signer, files


def verify_model_signature(
    model_path: Path,
    sig_path: Path,
    *,
    method: str = "key",
    public_key: Path | None = None,
    certificate_chain: tuple[Path, ...] = (),
    label: str | None = None,
) -> None:
    """Verify an OpenSSF model-signing signature with model-signing's own verifier; raise
    :class:`SigningError` with model-signing's reason (changed/extra/missing files, wrong key). ``label`` names
    the model in messages (its bundle path)."""
    _model_signing()
    from model_signing import verifying

    cfg = verifying.Config()
    try:
        if method == "certificate":
            cfg = cfg.use_certificate_verifier(certificate_chain=list(certificate_chain))
        else:
            if public_key is None:
                raise SigningError("a key signature needs a public key")
            cfg = cfg.use_elliptic_key_verifier(public_key=public_key)
    except SigningError:
        raise
    except Exception as exc:
        raise SigningError(f"cannot use {public_key or 'the certificate chain'}: {_first(exc)}") from None
    try:
        cfg.verify(model_path, sig_path)
    except Exception as exc:
        raise SigningError(_mismatch(str(exc), label or model_path.name) or _first(exc)) from None


def _mismatch(text: str, label: str) -> str | None:
    """model-signing's "Signature mismatch: [...]" as one readable line (which files changed, were added or are
    missing; '.' is a single signed file), without the digests' byte reprs."""
    import re

    if not text.startswith("Signature mismatch"):
        return None
    changed = [label if n == "." else n for n in re.findall(r"Hash mismatch for '([^']*)'", text)]
    parts = [f"content changed since signing: {', '.join(changed)}"] if changed else []
    parts += [m.group(0).split(" in model ")[0] + ": " + m.group(1)
              for m in re.finditer(r"(?:Extra|Missing) files[^:]*: ([^\"\]]*)", text)]
    return "signature mismatch: " + "; ".join(parts) if parts else None


def _first(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if not text or len(text) < 8 else text
