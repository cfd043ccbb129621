"""Random access: ranges equal plaintext slices and fetch only the segments they cover."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.core.errors import TamperedData, WrongKey
from archiver.vault import (
    KeyFileProvider,
    RangeReader,
    encrypt_file,
    file_fetch,
    parse_header,
    read_plaintext_range,
)
from archiver.vault.format import HEADER_PROBE_SIZE, TAG_SIZE

FAST = settings(max_examples=150, deadline=None)


@st.composite
def object_and_range(draw):
    data = draw(st.binary(min_size=1, max_size=2000))
    offset = draw(st.integers(0, len(data) - 1))
    length = draw(st.integers(0, len(data) - offset))
    segment_size = draw(st.sampled_from([16, 64, 100, 256]))
    return data, offset, length, segment_size


@FAST
@given(case=object_and_range(), size_known=st.booleans())
def test_range_equals_slice_and_reads_only_covering_segments(
    keyfile, seal, counting_fetch, context, case, size_known
):
    data, offset, length, seg = case
    ct, info = seal(data, keyfile, segment_size=seg)
    header = parse_header(ct)
    fetch = counting_fetch(ct)
    got = read_plaintext_range(
        fetch,
        offset,
        length,
        keyfile,
        context=context,
        header=header,
        ciphertext_size=len(ct) if size_known else None,
    )
    assert got == data[offset : offset + length]
    if length == 0:
        assert fetch.calls == []
        return
    covered = (offset + length - 1) // seg - offset // seg + 1
    assert len(fetch.calls) == 1  # one contiguous read: one S3 GET
    ((start, _),) = fetch.calls
    assert start == header.size + (offset // seg) * (seg + TAG_SIZE)
    assert fetch.bytes_returned <= covered * (seg + TAG_SIZE) + (0 if size_known else 1)


@FAST
@given(case=object_and_range())
def test_range_without_header_costs_one_extra_fetch(keyfile, seal, counting_fetch, context, case):
    data, offset, length, seg = case
    ct, _ = seal(data, keyfile, segment_size=seg)
    fetch = counting_fetch(ct)
    got = read_plaintext_range(fetch, offset, length, keyfile, context=context)
    assert got == data[offset : offset + length]
    assert fetch.calls[0] == (0, HEADER_PROBE_SIZE)
    assert len(fetch.calls) <= 2


def test_only_needed_segments_are_read(keyfile, seal, counting_fetch, context):
    """Damage outside the range goes unnoticed because those bytes are never fetched."""
    data = os.urandom(64 * 10)
    ct, info = seal(data, keyfile)
    damaged = bytearray(ct)
    damaged[info.header_size + 8 * (64 + TAG_SIZE) + 3] ^= 0xFF  # inside segment 8
    fetch = counting_fetch(bytes(damaged))
    reader = RangeReader(fetch, keyfile, context=context, ciphertext_size=len(ct))
    assert reader.read(130, 100) == data[130:230]  # segments 2 and 3
    assert reader.read(0, 1) == data[:1]
    with pytest.raises(TamperedData, match="segment 8"):
        reader.read(64 * 8, 10)
    read_bytes = sum(n for _, n in fetch.calls[1:])
    assert read_bytes == 2 * 80 + 80 + 80


def test_range_reader_unwraps_once(tmp_path: Path, seal, counting_fetch, context):
    class CountingProvider(KeyFileProvider):
        unwraps = 0

        def unwrap(self, wrapped, key_id, context):
            type(self).unwraps += 1
            return super().unwrap(wrapped, key_id, context)

    provider = CountingProvider(tmp_path / "keys.json")
    data = os.urandom(1000)
    ct, _ = seal(data, provider)
    reader = RangeReader(counting_fetch(ct), provider, context=context)
    for off in range(0, 1000, 97):
        assert reader.read(off, 3) == data[off : off + 3]
    assert CountingProvider.unwraps == 1


@pytest.mark.parametrize("size_known", [True, False])
def test_range_past_the_end_is_refused(keyfile, seal, counting_fetch, context, size_known):
    data = os.urandom(300)
    ct, _ = seal(data, keyfile)
    reader = RangeReader(
        counting_fetch(ct),
        keyfile,
        context=context,
        ciphertext_size=len(ct) if size_known else None,
    )
    with pytest.raises(ValueError, match="past the end"):
        reader.read(290, 11)
    with pytest.raises(ValueError, match="past the end"):
        reader.read(250, 100)
    assert reader.read(290, 10) == data[290:]
    with pytest.raises(ValueError):
        reader.read(-1, 5)


def test_truncated_object_is_detected_by_range_reads(keyfile, seal, counting_fetch, context):
    data = os.urandom(64 * 6)
    ct, info = seal(data, keyfile)
    cut = ct[: info.header_size + 4 * (64 + TAG_SIZE)]  # segments 4 and 5 gone
    reader = RangeReader(counting_fetch(cut), keyfile, context=context)
    assert reader.read(0, 100) == data[:100]  # intact, and provably followed by more data
    with pytest.raises(TamperedData):
        reader.read(64 * 3, 10)  # segment 3 now looks final, but was not sealed as final
    with pytest.raises(TamperedData):
        reader.read(64 * 5, 10)  # no bytes at all there
    # a stale catalog size exposes the truncation too
    sized = RangeReader(counting_fetch(cut), keyfile, context=context, ciphertext_size=len(ct))
    with pytest.raises(TamperedData):
        sized.read(64 * 5, 10)


def test_impossible_ciphertext_size_is_tampered(keyfile, seal, counting_fetch, context):
    ct, info = seal(os.urandom(300), keyfile)
    with pytest.raises(TamperedData, match="impossible size"):
        RangeReader(
            counting_fetch(ct), keyfile, context=context, ciphertext_size=info.header_size + 5
        )


def test_wrong_context_for_range_read_is_wrong_key(keyfile, seal, counting_fetch):
    ct, _ = seal(os.urandom(300), keyfile)
    with pytest.raises(WrongKey):
        read_plaintext_range(counting_fetch(ct), 0, 10, keyfile, context={"object": "other"})


def test_range_read_over_a_local_file(tmp_path: Path, keyfile, context):
    src, enc = tmp_path / "plain", tmp_path / "enc"
    data = os.urandom(3 * 1024 * 1024)
    src.write_bytes(data)
    info = encrypt_file(src, enc, keyfile, context=context)
    fetch = file_fetch(enc)
    got = read_plaintext_range(
        fetch, 1_500_000, 1_000_000, keyfile, context=context, ciphertext_size=info.ciphertext_size
    )
    assert got == data[1_500_000:2_500_000]
