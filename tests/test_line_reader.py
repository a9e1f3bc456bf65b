"""`fsutil.LineReader`: lines read back by byte offset through kept descriptors, as the inspection
context reads source records and manifest rows."""
import os
import pickle

from stmtprod.fsutil import LineReader


def _write(path, lines: list[bytes]) -> list[int]:
    offsets, at = [], 0
    for line in lines:
        offsets.append(at)
        at += len(line)
    path.write_bytes(b"".join(lines))
    return offsets


def test_every_line_is_read_whole_at_its_offset_whatever_its_length(tmp_path):
    lines = [b"a\n", b"x" * 16383 + b"\n", b"y" * 16384 + b"\n", b"z" * 70000 + b"\n", b"\n", b"last, no newline"]
    offsets = _write(tmp_path / "f.jsonl", lines)
    reader = LineReader()
    for offset, line in zip(offsets, lines):
        assert reader.line(tmp_path / "f.jsonl", offset) == line
    assert reader.line(tmp_path / "f.jsonl", sum(map(len, lines))) == b""  # at the end: nothing


def test_a_pickled_reader_starts_empty_and_reads_the_same(tmp_path):
    offsets = _write(tmp_path / "f.jsonl", [b"one\n", b"two\n"])
    reader = LineReader()
    assert reader.line(tmp_path / "f.jsonl", offsets[1]) == b"two\n"
    copy = pickle.loads(pickle.dumps(reader))
    assert copy._fds == {}
    assert copy.line(tmp_path / "f.jsonl", offsets[0]) == b"one\n"


def test_a_forked_reader_and_its_parent_do_not_move_each_other(tmp_path):
    lines = [f"{i:06d}\n".encode() for i in range(2000)]
    offsets = _write(tmp_path / "f.jsonl", lines)
    reader = LineReader()
    reader.line(tmp_path / "f.jsonl", 0)  # the descriptor is open before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reads every line backwards while the parent reads forwards
        ok = all(reader.line(tmp_path / "f.jsonl", offsets[i]) == lines[i] for i in reversed(range(2000)))
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    assert all(reader.line(tmp_path / "f.jsonl", offsets[i]) == lines[i] for i in range(2000))
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"


def test_close_releases_every_descriptor(tmp_path):
    _write(tmp_path / "a", [b"a\n"])
    _write(tmp_path / "b", [b"b\n"])
    reader = LineReader()
    reader.line(tmp_path / "a", 0)
    reader.line(tmp_path / "b", 0)
    fds = list(reader._fds.values())
    reader.close()
    assert reader._fds == {}
    for fd in fds:
        try:
            os.fstat(fd)
        except OSError:
            continue
        raise AssertionError(f"descriptor {fd} still open")
