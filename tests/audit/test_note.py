"""C2SP signed notes, checkpoints, cosignatures and witness bodies: round trips, the specs'
own examples as known answers, and the strictness of every parser."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simpul.audit import merkle
from simpul.audit import note as nt

DASH = "\u2014 "
LOG = "log.simpul.example/audit"
WITNESS = "witness.example/w1"


def key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


def public(k: Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes_raw()


def note_verifier(name: str, k: Ed25519PrivateKey) -> nt.Verifier:
    return nt.parse_verifier_key(nt.verifier_key(name, public(k)))


def witness_verifier(name: str, k: Ed25519PrivateKey) -> nt.Verifier:
    return nt.parse_verifier_key(nt.cosignature_verifier_key(name, public(k)))


ROOT = merkle.root(merkle.leaf_hashes([b"a", b"b", b"c"]))
CHECKPOINT = nt.checkpoint_text(LOG, 3, ROOT)


# The signed-note spec's vkey example (c2sp.org/signed-note, "Verifier keys").
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{DASH}example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# The example of Go's golang.org/x/mod/sumdb/note documentation, the format's origin.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n\n"
    f"{DASH}PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdn"
    "gotpRZb6KE6RyyBwJnAM=\n"
)
# tlog-cosignature's example: a checkpoint with its log signature and a witness cosignature.
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    f"{DASH}example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
    "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    f"{DASH}witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrD"
    "JsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def test_spec_examples_verify() -> None:
    for vkey, signed in ((SPEC_VKEY, SPEC_NOTE), (GO_VKEY, GO_NOTE)):
        verifier = nt.parse_verifier_key(vkey)
        assert verifier.alg == nt.ALG_ED25519
        assert nt.verifier_key(verifier.name, verifier.public) == vkey
        assert nt.verify_note(signed, verifier)
        assert not nt.verify_note(
            signed.replace("message", "massage").replace("answer", "Answer"), verifier
        )
    assert nt.parse_verifier_key(GO_VKEY).key_hash.hex() == "c74f20a3"


def test_spec_examples_parse() -> None:
    # The note text may hold blank lines: only the last one separates the signatures.
    poem = (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n"
        "\ned è subito sera.\n"
        f"\n{DASH}quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9o"
        "JKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    )
    parsed = nt.parse_note(poem)
    assert parsed.text.endswith("sole:\n\ned è subito sera.\n")
    assert [s.name for s in parsed.signatures] == ["quasimodo.example/salvatore"]
    assert nt.parse_note(poem.encode()) == parsed

    cosigned = nt.parse_note(SPEC_COSIGNED)
    body = nt.parse_checkpoint(cosigned.text)
    assert (body.origin, body.size, body.extensions) == (
        "example.com/behind-the-sofa",
        20852163,
        (),
    )
    assert base64.b64encode(body.root) == b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    log_sig, witness_sig = cosigned.signatures
    assert len(log_sig.raw) == 64
    # u64 timestamp then the signature; the spec's message example says "time 1679315147".
    assert len(witness_sig.raw) == 8 + 64
    assert int.from_bytes(witness_sig.raw[:8], "big") == 1679315147
    assert witness_sig.line == SPEC_COSIGNED.splitlines(keepends=True)[-1]


def test_key_hash_layout() -> None:
    pub = public(key(1))
    digest = hashlib.sha256(b"example.com/k\n\x04" + pub).digest()
    assert nt.key_hash("example.com/k", nt.ALG_COSIGNATURE_V1, pub) == digest[:4]
    assert nt.key_hash("example.com/k", nt.ALG_ED25519, pub) != digest[:4]


def test_sign_parse_verify_round_trip() -> None:
    k = key(1)
    signed = nt.sign_note(CHECKPOINT, LOG, k)
    assert signed.startswith(CHECKPOINT + "\n" + DASH + LOG + " ")
    assert signed.endswith("\n")
    parsed = nt.parse_note(signed)
    assert parsed.text == CHECKPOINT
    (sig,) = parsed.signatures
    assert sig.key_hash == nt.key_hash(LOG, nt.ALG_ED25519, public(k))
    k.public_key().verify(sig.raw, CHECKPOINT.encode())  # plain Ed25519 over the text
    verifier = note_verifier(LOG, k)
    assert nt.verify_note(signed, verifier)
    assert nt.verify_note(parsed, verifier)
    assert nt.check_note_signature(signed, verifier) is True


def test_wrong_key_or_changed_text_fails() -> None:
    k = key(1)
    signed = nt.sign_note(CHECKPOINT, LOG, k)
    # Another key under the same name: its key ID differs, so the line is not its.
    other = note_verifier(LOG, key(2))
    assert nt.check_note_signature(signed, other) is None
    assert not nt.verify_note(signed, other)
    # Same name and key ID but another public key (a colliding ID): the signature fails.
    impostor = nt.Verifier(LOG, nt.ALG_ED25519, note_verifier(LOG, k).key_hash, public(key(2)))
    assert nt.check_note_signature(signed, impostor) is False
    # Same key, other name: ignored.
    assert nt.check_note_signature(signed, note_verifier("other.example/log", k)) is None
    for i in range(len(CHECKPOINT) - 1):
        if CHECKPOINT[i] == "\n":
            continue
        changed = CHECKPOINT[:i] + chr(ord(CHECKPOINT[i]) ^ 1) + signed[i + 1 :]
        # A flip that makes the note unparseable (ValueError) is a rejection too.
        with contextlib.suppress(ValueError):
            assert not nt.verify_note(changed, note_verifier(LOG, k))
    with pytest.raises(ValueError, match="Ed25519 note verifier"):
        nt.verify_note(signed, witness_verifier(LOG, k))


def test_signature_lines_order_duplicates_and_placement() -> None:
    a, b = key(1), key(2)
    signed = nt.add_signature(
        nt.sign_note(CHECKPOINT, LOG, a),
        nt.sign_note(CHECKPOINT, "mirror.example", b).splitlines(True)[-1],
    )
    text, first, second = signed[: len(CHECKPOINT)], *signed[len(CHECKPOINT) + 1 :].splitlines(True)
    assert [s.name for s in nt.parse_note(signed).signatures] == [LOG, "mirror.example"]
    # Order carries no meaning in signed-note: swapped lines still verify for both keys.
    swapped = f"{text}\n{second}{first}"
    assert nt.verify_note(swapped, note_verifier(LOG, a))
    assert nt.verify_note(swapped, note_verifier("mirror.example", b))
    # A line moved above the blank line becomes text: the log's signature no longer covers it.
    moved = f"{text}{second}\n{first}"
    assert not nt.verify_note(moved, note_verifier(LOG, a))
    # Reordering the text's lines breaks the signature.
    origin, size, root_line = text.splitlines(True)
    assert not nt.verify_note(f"{size}{origin}{root_line}\n{first}", note_verifier(LOG, a))
    # One key signs once: a duplicated line is refused, by the parser and by add_signature.
    with pytest.raises(ValueError, match="same key"):
        nt.parse_note(f"{text}\n{first}{first}")
    with pytest.raises(ValueError, match="same key"):
        nt.add_signature(signed, first)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ("", "no signature lines"),
        ("-- log.example AAAAAAA=\n", "em dash"),
        ("\u2014log.example AAAAAAA=\n", "em dash"),
        (f"{DASH}log.example\n", "no signature"),
        (f"{DASH}log.example  AAAAAAA=\n", "not base64"),
        (f"{DASH}log+example AAAAAAA=\n", "space, plus"),
        (f"{DASH} AAAAAAA=\n", "empty"),
        (f"{DASH}log.example AAAAAAA\n", "not base64"),
        (f"{DASH}log.example AAAAAAB=\n", "canonical"),
        (f"{DASH}log.example AAAAAA==\n", "shorter"),
        (f"{DASH}log.example AAAAAAA=", "newline"),
        (f"{DASH}log.example AAAAAAA=\n\n", "no signature lines"),
        (f"{DASH}log.example AAAAAAA=\r\n", "control"),
        (f"{DASH}log.example AAAAAAA=\nnot a signature\n", "em dash"),
    ],
)
def test_malformed_signature_lines_are_rejected(tail: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nt.parse_note(f"{CHECKPOINT}\n{tail}")


def test_note_limits_and_text_rules() -> None:
    line = f"{DASH}log.example AAAAAAA=\n"
    with pytest.raises(ValueError, match="no blank line"):
        nt.parse_note(CHECKPOINT + line)
    with pytest.raises(ValueError, match="control"):
        nt.parse_note("a\tb\n\n" + line)
    with pytest.raises(ValueError, match="UTF-8"):
        nt.parse_note(b"\xff\n\n" + line.encode())
    with pytest.raises(ValueError, match="UTF-8"):
        nt.parse_note("\ud800\n\n" + line)
    with pytest.raises(ValueError, match="too large"):
        nt.parse_note("x" * nt.MAX_NOTE_BYTES + "\n\n" + line)
    many = "".join(f"{DASH}k{i}.example AAAAAAA=\n" for i in range(nt.MAX_SIGNATURES + 1))
    with pytest.raises(ValueError, match="too many"):
        nt.parse_note(CHECKPOINT + "\n" + many)
    assert len(nt.parse_note(CHECKPOINT + "\n" + many[: -len(line) - 1]).signatures) == 100
    with pytest.raises(ValueError, match="newline"):
        nt.sign_note("no newline", LOG, key(1))
    with pytest.raises(ValueError, match="control"):
        nt.sign_note("bell\x07\n", LOG, key(1))
    for name in ("", "a b", "a+b", "a\u00a0b", "a\nb"):
        with pytest.raises(ValueError, match="key name"):
            nt.sign_note(CHECKPOINT, name, key(1))


def test_verifier_key_round_trip_and_tampering() -> None:
    pub = public(key(3))
    vkey = nt.verifier_key(LOG, pub)
    name, hex_id, blob = vkey.split("+", 2)
    assert (name, base64.b64decode(blob)) == (LOG, b"\x01" + pub)
    assert nt.parse_verifier_key(vkey) == nt.Verifier(LOG, 1, bytes.fromhex(hex_id), pub)
    assert nt.parse_verifier_key(f"{name}+{hex_id.upper()}+{blob}").key_hash.hex() == hex_id
    witness = nt.parse_verifier_key(nt.cosignature_verifier_key(WITNESS, pub))
    assert witness.alg == nt.ALG_COSIGNATURE_V1
    assert witness.key_hash == nt.key_hash(WITNESS, 0x04, pub)
    wrong_id = f"{int(hex_id, 16) ^ 1:08x}"
    other_alg = base64.b64encode(b"\x02" + pub).decode()
    short = base64.b64encode(b"\x01" + pub[:31]).decode()
    for bad, message in [
        (f"{name}+{wrong_id}+{blob}", "does not match"),
        (f"other.example+{hex_id}+{blob}", "does not match"),
        (f"{name}+{hex_id}+{nt.verifier_key(LOG, public(key(4))).split('+', 2)[2]}", "match"),
        (f"{name}+{hex_id}", "name\\+id\\+key"),
        (f"{name}+{hex_id[:7]}+{blob}", "8 hex"),
        (f"{name}+{hex_id}0+{blob}", "8 hex"),
        (f"{name}+{hex_id}+{blob[:-1]}", "base64"),
        (f"{name}+{hex_id}+", "empty"),
        (f"{name}+{hex_id}+{other_alg}", "unsupported"),
        (f"{name}+{hex_id}+{short}", "32 bytes"),
        (f"a b+{hex_id}+{blob}", "key name"),
        (f"+{hex_id}+{blob}", "key name"),
    ]:
        with pytest.raises(ValueError, match=message):
            nt.parse_verifier_key(bad)


def test_cosignature_round_trip() -> None:
    log_key, witness_key = key(1), key(5)
    signed = nt.sign_note(CHECKPOINT, LOG, log_key)
    line = nt.cosign(CHECKPOINT, WITNESS, witness_key, 1_700_000_000)
    assert line.startswith(DASH + WITNESS + " ") and line.endswith("\n")
    (sig,) = nt.parse_signature_lines(line)
    verifier = witness_verifier(WITNESS, witness_key)
    assert sig.key_hash == verifier.key_hash
    assert sig.raw[:8] == (1_700_000_000).to_bytes(8, "big")
    # The exact signed message of tlog-cosignature's Ed25519 format.
    message = b"cosignature/v1\ntime 1700000000\n" + CHECKPOINT.encode()
    witness_key.public_key().verify(sig.raw[8:], message)
    assert nt.verify_cosignature(CHECKPOINT, sig, verifier) == 1_700_000_000

    # Appended to the log's note, both the log's and the witness's signatures hold.
    cosigned = nt.add_signature(signed, line)
    parsed = nt.parse_note(cosigned)
    assert parsed.signatures[0].name == LOG and parsed.signatures[1] == sig
    assert nt.verify_note(cosigned, note_verifier(LOG, log_key))
    assert nt.check_note_signature(cosigned, note_verifier(WITNESS, witness_key)) is None
    assert nt.verify_cosignature(parsed.text, parsed.signatures[1], verifier) == 1_700_000_000


def test_cosignature_rejections() -> None:
    witness_key = key(5)
    verifier = witness_verifier(WITNESS, witness_key)
    (sig,) = nt.parse_signature_lines(nt.cosign(CHECKPOINT, WITNESS, witness_key, 42))
    other_checkpoint = nt.checkpoint_text(LOG, 4, ROOT)
    assert nt.verify_cosignature(other_checkpoint, sig, verifier) is None
    assert nt.verify_cosignature(CHECKPOINT.replace(LOG, LOG + "x"), sig, verifier) is None
    # Another timestamp over the same signature, or a bit flipped in it.
    later = nt.NoteSignature(sig.name, sig.key_hash, (43).to_bytes(8, "big") + sig.raw[8:])
    assert nt.verify_cosignature(CHECKPOINT, later, verifier) is None
    flipped = nt.NoteSignature(sig.name, sig.key_hash, sig.raw[:-1] + bytes([sig.raw[-1] ^ 1]))
    assert nt.verify_cosignature(CHECKPOINT, flipped, verifier) is None
    assert nt.verify_cosignature(CHECKPOINT, sig, witness_verifier(WITNESS, key(6))) is None
    assert (
        nt.verify_cosignature(CHECKPOINT, sig, witness_verifier("w2.example", witness_key)) is None
    )
    # A plain note signature from the same key is not a cosignature (other key ID, layout).
    (plain,) = nt.parse_note(nt.sign_note(CHECKPOINT, WITNESS, witness_key)).signatures
    assert nt.verify_cosignature(CHECKPOINT, plain, verifier) is None
    # A type 0x01 key given as a witness key is a configuration error, said out loud.
    with pytest.raises(ValueError, match="cosignature/v1 verifier"):
        nt.verify_cosignature(CHECKPOINT, sig, note_verifier(WITNESS, witness_key))
    with pytest.raises(ValueError, match="timestamp"):
        nt.cosign(CHECKPOINT, WITNESS, witness_key, 1 << 63)
    with pytest.raises(ValueError, match="timestamp"):
        nt.cosign(CHECKPOINT, WITNESS, witness_key, -1)
    with pytest.raises(ValueError, match="fewer than three"):
        nt.cosign("just text\n", WITNESS, witness_key, 1)


def test_checkpoint_text_round_trip() -> None:
    assert f"{LOG}\n3\n{base64.b64encode(ROOT).decode()}\n" == CHECKPOINT
    assert nt.parse_checkpoint(CHECKPOINT) == nt.CheckpointBody(LOG, 3, ROOT, ())
    extended = nt.checkpoint_text(LOG, 0, merkle.EMPTY_ROOT, ["ext one", "ext two"])
    assert extended.endswith("\next one\next two\n")
    assert nt.parse_checkpoint(extended) == nt.CheckpointBody(
        LOG, 0, merkle.EMPTY_ROOT, ("ext one", "ext two")
    )
    for args, message in [
        (("", 1, ROOT), "origin"),
        (("a\nb", 1, ROOT), "origin"),
        ((LOG, -1, ROOT), "size"),
        ((LOG, 1, ROOT[:31]), "32"),
    ]:
        with pytest.raises(ValueError, match=message):
            nt.checkpoint_text(*args)
    with pytest.raises(ValueError, match="extension"):
        nt.checkpoint_text(LOG, 1, ROOT, [""])


@pytest.mark.parametrize(
    ("size", "root", "rest", "message"),
    [
        ("01", None, "", "leading zeros"),
        ("+1", None, "", "decimal"),
        (" 1", None, "", "decimal"),
        ("1_0", None, "", "decimal"),
        ("\u0661", None, "", "decimal"),  # ARABIC-INDIC DIGIT ONE: int() would take it
        ("", None, "", "empty line"),
        (str(1 << 63), None, "", "too large"),
        ("3", "not base64!", "", "base64"),
        ("3", base64.b64encode(ROOT).decode().rstrip("="), "", "base64"),
        ("3", base64.b64encode(ROOT[:31]).decode(), "", "32 bytes"),
        ("3", base64.b64encode(ROOT + b"\x00").decode(), "", "32 bytes"),
        ("3", None, "\n", "empty line"),
    ],
)
def test_checkpoint_parse_is_strict(size: str, root: str | None, rest: str, message: str) -> None:
    root_line = base64.b64encode(ROOT).decode() if root is None else root
    with pytest.raises(ValueError, match=message):
        nt.parse_checkpoint(f"{LOG}\n{size}\n{root_line}\n{rest}")


def test_checkpoint_missing_lines() -> None:
    for text in (f"{LOG}\n3\n", f"{LOG}\n", "\n", CHECKPOINT[:-1], ""):
        with pytest.raises(ValueError, match=r"three lines|newline|empty"):
            nt.parse_checkpoint(text)
    with pytest.raises(ValueError, match="empty line"):
        nt.parse_checkpoint("\n3\n" + base64.b64encode(ROOT).decode() + "\n")


def test_add_checkpoint_body_round_trip() -> None:
    leaves = merkle.leaf_hashes([b"a", b"b", b"c", b"d", b"e"])
    proof = merkle.consistency_proof(3, leaves)
    signed = nt.sign_note(nt.checkpoint_text(LOG, 5, merkle.root(leaves)), LOG, key(1))
    body = nt.add_checkpoint_body(3, proof, signed)
    lines = body.split("\n")
    assert lines[0] == "old 3"
    assert [base64.b64decode(x) for x in lines[1 : 1 + len(proof)]] == proof
    assert lines[1 + len(proof)] == ""
    assert nt.parse_add_checkpoint(body) == (3, proof, signed)
    assert nt.parse_add_checkpoint(nt.add_checkpoint_body(0, [], signed)) == (0, [], signed)
    with pytest.raises(ValueError, match="size 0"):
        nt.add_checkpoint_body(0, proof, signed)
    with pytest.raises(ValueError, match="too many"):
        nt.add_checkpoint_body(3, [proof[0]] * 64, signed)
    with pytest.raises(ValueError, match="32 bytes"):
        nt.add_checkpoint_body(3, [b"x" * 31], signed)
    with pytest.raises(ValueError, match="blank line"):
        nt.add_checkpoint_body(3, proof, CHECKPOINT)


def test_add_checkpoint_spec_example_and_strictness() -> None:
    hashes = [
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
    ]
    checkpoint = SPEC_COSIGNED[: SPEC_COSIGNED.rindex(DASH)]  # the log's signature only
    body = "old 20852014\n" + "".join(h + "\n" for h in hashes) + "\n" + checkpoint
    old, proof, signed = nt.parse_add_checkpoint(body)
    assert old == 20852014
    assert [base64.b64encode(p).decode() for p in proof] == hashes
    assert nt.parse_checkpoint(nt.parse_note(signed).text).size == 20852163

    h = hashes[0] + "\n"
    for bad, message in [
        ("old 01\n\n" + checkpoint, "leading zeros"),
        ("old -1\n\n" + checkpoint, "decimal"),
        ("old  1\n\n" + checkpoint, "decimal"),
        ("new 1\n\n" + checkpoint, "old size line"),
        ("\nold 1\n\n" + checkpoint, "old size line"),
        ("old 1\n" + h + checkpoint, "base64"),  # no blank line: the origin is read as a hash
        ("old 1\n" + h, "blank line"),
        ("old 1\n" + h + "\n", "no checkpoint"),
        ("old 1\n" + "AAAA\n\n" + checkpoint, "32 bytes"),
        ("old 1\n" + h[:-2] + "\n\n" + checkpoint, "base64"),
        ("old 1\n" + h * 64 + "\n" + checkpoint, "too many"),
        ("old 1", "blank line"),
    ]:
        with pytest.raises(ValueError, match=message):
            nt.parse_add_checkpoint(bad)
    assert len(nt.parse_add_checkpoint("old 1\n" + h * 63 + "\n" + checkpoint)[1]) == 63


def test_witness_response_lines_parse() -> None:
    response = (
        f"{DASH}witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39Qs"
        "ZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
        f"{DASH}witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQ"
        "Nt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
        f"{DASH}witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZg"
        "rrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n"
    )
    sigs = nt.parse_signature_lines(response)
    assert [s.name for s in sigs] == ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert all(len(s.raw) == 72 for s in sigs)
    assert "".join(s.line for s in sigs) == response
