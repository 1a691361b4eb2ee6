"""The reader process's side: an export session's requests and replies, listing pages, and the process over real
pipes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from support.cars import DID, KEY, build_car
from support.jwts import SigningKey

from chive_admin.repo.car import open_verified
from chive_admin.repo.reader_process import Session, frame, read_message
from chive_admin.repo.rows import page_rows, record_rows

COMMENT = "pub.chive.review.comment"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"


def export(tmp_path: Path, count: int) -> tuple[Path, bytes]:
    car = build_car({f"{COMMENT}/{i:04d}": {"$type": COMMENT, "i": i} for i in range(count)})
    path = tmp_path / "export.car"
    path.write_bytes(car)
    return path, car


def test_a_session_opens_with_its_first_part_and_closes_with_its_last(tmp_path: Path) -> None:
    path, car = export(tmp_path, 25)
    repo = open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key)
    first, *rest = list(record_rows(repo, "pub.chive.", 10))
    session = Session()

    opened = session.handle(("open", str(path), DID, KEY.did_key, "pub.chive.", 10))
    # the rev and data root a did-sync records as the repository's head, and the first part: a small export is
    # read in one round trip
    assert opened == ("opened", "3kabcdefghi22", repo.commit_cid, repo.data_cid, first)
    assert [session.handle(("next",)) for _ in rest] == [("rows", rows) for rows in rest]
    # the part of 5 was the last: the session closed with it
    assert session.handle(("next",)) == ("failed", "no export is open")


def test_a_walk_of_whole_parts_ends_with_end(tmp_path: Path) -> None:
    path, _ = export(tmp_path, 20)
    session = Session()
    assert len(session.handle(("open", str(path), DID, KEY.did_key, "pub.chive.", 10))[4]) == 10
    assert session.handle(("next",))[0] == "rows"
    assert session.handle(("next",)) == ("end",)
    assert session.handle(("next",)) == ("failed", "no export is open")
    assert session.handle(("close",)) == ("closed",)


def test_an_export_with_nothing_under_the_prefix_opens_ended(tmp_path: Path) -> None:
    path, _ = export(tmp_path, 3)
    session = Session()
    assert session.handle(("open", str(path), DID, KEY.did_key, "pub.chive.graph.", 10))[4] == []
    assert session.handle(("next",)) == ("failed", "no export is open")


def test_an_export_signed_by_another_key_is_refused_and_closed(tmp_path: Path) -> None:
    path, _ = export(tmp_path, 3)
    session = Session()
    reply = session.handle(("open", str(path), DID, SigningKey("ES256K").did_key, "pub.chive.", 10))
    assert reply[:2] == ("refused", "bad_signature")
    assert session.handle(("next",)) == ("failed", "no export is open")


def test_what_no_check_foresaw_answers_failed_with_its_traceback(tmp_path: Path) -> None:
    session = Session()
    reply = session.handle(("open", str(tmp_path / "gone.car"), DID, KEY.did_key, "pub.chive.", 10))
    assert reply[0] == "failed"
    assert "FileNotFoundError" in str(reply[1])
    assert session.handle(("dance",)) == ("failed", "unknown request 'dance'")


def test_the_process_answers_over_its_pipes_and_exits_at_the_end_of_its_input(tmp_path: Path) -> None:
    path, _ = export(tmp_path, 3)
    requests = [("ping",), ("open", str(path), DID, KEY.did_key, "pub.chive.", 2), ("next",), ("close",)]
    done = subprocess.run(
        [sys.executable, "-m", "chive_admin.repo.reader_process"],
        input=b"".join(frame(r) for r in requests),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    replies = []
    out = io.BytesIO(done.stdout)
    while (reply := read_message(out)) is not None:
        replies.append(reply)
    assert [r[0] for r in replies] == ["pong", "opened", "rows", "closed"]
    assert [len(replies[1][4]), len(replies[2][1])] == [2, 1]
    assert len(done.stdout) == sum(len(frame(r)) for r in replies)  # nothing but replies on stdout


def read_growing(session: Session, path: Path, written: int) -> list[object]:
    replies = [session.handle(("open", str(path), DID, KEY.did_key, "pub.chive.", 10, written))]
    while (reply := replies[-1]) is not None and reply[0] in ("opened", "rows") and len(reply[-1]) == 10:
        replies.append(session.handle(("next",)))
    return replies


def test_a_growing_export_is_read_as_far_as_it_is_announced_and_ends_once_it_is_whole(tmp_path: Path) -> None:
    path, car = export(tmp_path, 25)
    whole = [
        row
        for rows in record_rows(open_verified(io.BytesIO(car), did=DID, signing_key=KEY.did_key), "pub.chive.", 10)
        for row in rows
    ]
    # the file is all on disk, but the session may read only what was announced (the rest could be half-written)
    announcements = io.BytesIO(
        frame(("grew", len(car) // 2)) + frame(("grew", len(car) - 1)) + frame(("done", len(car)))
    )
    session = Session(announcements)
    replies = read_growing(session, path, 100)
    assert replies[0] is not None
    assert replies[0][0] == "opened"
    assert sorted(row for reply in replies if reply is not None for row in reply[-1]) == sorted(whole)
    assert announcements.read() == b""  # the last part came after the end was announced
    assert session.handle(("next",)) == ("failed", "no export is open")
    assert session.handle(("grew", 10)) is None  # an announcement has no answer, even one for a session gone


def test_a_growing_export_whose_announcements_stop_fails_its_request(tmp_path: Path) -> None:
    path, car = export(tmp_path, 25)
    session = Session(io.BytesIO(frame(("grew", len(car) // 2)) + frame(("next",))))
    reply = session.handle(("open", str(path), DID, KEY.did_key, "pub.chive.", 10, 100))
    assert reply is not None
    assert reply[0] == "failed"
    assert "'next' came while the export was still being written" in str(reply[1])
    assert Session(io.BytesIO()).handle(("open", str(path), DID, KEY.did_key, "pub.chive.", 10, 100))[0] == "failed"  # type: ignore[index]


def test_a_listing_page_is_answered_with_its_rows_or_what_is_wrong_with_it_and_leaves_a_session_open(
    tmp_path: Path,
) -> None:
    path, _ = export(tmp_path, 25)
    session = Session()
    session.handle(("open", str(path), DID, KEY.did_key, "pub.chive.", 10))
    record = {"uri": f"at://{DID}/{COMMENT}/3kabc", "cid": CID, "value": {"$type": COMMENT}}
    body = json.dumps({"records": [record], "cursor": "3kabc"}).encode()

    assert session.handle(("page", body, COMMENT)) == ("page", *page_rows(body, COMMENT))
    assert session.handle(("page", b"{", COMMENT))[0] == "not-json"
    off = session.handle(("page", b'{"records": [{"uri": "nope"}]}', COMMENT))
    assert off[0] == "off-lexicon"
    assert off[1].startswith("Invalid answer: records[0].uri: ")  # described field by field, not a traceback
    failed = session.handle(("page", None, COMMENT))  # what no check foresaw: a bug's traceback
    assert failed[0] == "failed"
    assert "Traceback" in str(failed[1])
    # the export's session went on as if no page had come
    assert session.handle(("next",))[0] == "rows"
