"""Throughput and memory of the vault: encrypt, decrypt and ranged reads of one large file.

    python bench/vault_bench.py                  # 256 MiB
    python bench/vault_bench.py --size-mb 2048   # 2 GiB: shows memory stays flat

Each phase runs in a fresh child process so its peak RSS (getrusage ru_maxrss) is its own;
"growth" is peak RSS minus the RSS after imports, i.e. what the phase itself allocated.
Times include disk I/O and fsync, as in production. MiB = 2^20 bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

CONTEXT = {"account": "bench/district/1", "object": "bench/object.warc.gz"}
MIB = 1 << 20


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def run_phase(args: argparse.Namespace) -> dict[str, float]:
    """Child side: one phase, reported as JSON on stdout."""
    from archiver.vault import (
        KeyFileProvider,
        RangeReader,
        decrypt_to_file,
        encrypt_file,
        file_fetch,
    )

    work = Path(args.workdir)
    provider = KeyFileProvider(work / "keys.json")
    baseline = _rss_kib()
    if args.tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    result: dict[str, float] = {}
    if args.phase == "encrypt":
        info = encrypt_file(
            work / "plain.bin",
            work / "cipher.vault",
            provider,
            context=CONTEXT,
            segment_size=args.segment_kib * 1024,
        )
        (work / "info.json").write_text(
            json.dumps({"sha256": info.plaintext_sha256, "ct_size": info.ciphertext_size})
        )
        result["bytes"] = info.plaintext_size
    elif args.phase == "decrypt":
        out = decrypt_to_file(
            work / "cipher.vault", work / "restored.bin", provider, context=CONTEXT
        )
        expected = json.loads((work / "info.json").read_text())["sha256"]
        if out.plaintext_sha256 != expected:
            raise SystemExit("decrypted plaintext does not match the original")
        result["bytes"] = out.plaintext_size
    elif args.phase in ("encrypt-cpu", "decrypt-cpu"):
        # CPU cost alone: in memory, no disk, no fsync (capped at 256 MiB of RAM)
        import io

        from archiver.vault import decrypt_stream, encrypt_stream

        seg = args.segment_kib * 1024
        with open(work / "plain.bin", "rb") as f:
            data = f.read(256 * MIB)

        class NullSink(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, b) -> int:  # type: ignore[override]
                return len(b)

        if args.phase == "encrypt-cpu":
            t0 = time.perf_counter()
            encrypt_stream(
                io.BytesIO(data), NullSink(), provider, context=CONTEXT, segment_size=seg
            )
        else:
            out = io.BytesIO()
            encrypt_stream(io.BytesIO(data), out, provider, context=CONTEXT, segment_size=seg)
            ct = out.getvalue()
            t0 = time.perf_counter()
            for _ in decrypt_stream(io.BytesIO(ct), provider, context=CONTEXT):
                pass
        result["bytes"] = len(data)
    elif args.phase == "ranges":
        ct_size = json.loads((work / "info.json").read_text())["ct_size"]
        reader = RangeReader(
            file_fetch(work / "cipher.vault"), provider, context=CONTEXT, ciphertext_size=ct_size
        )
        assert reader.plaintext_size is not None
        rng = random.Random(1)
        for _ in range(args.range_reads):
            reader.read(rng.randrange(reader.plaintext_size - 4096), 4096)
        result["reads"] = args.range_reads
    result["seconds"] = time.perf_counter() - t0
    if args.tracemalloc:
        result["tracemalloc_peak_kib"] = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
    result["baseline_rss_kib"] = baseline
    result["peak_rss_kib"] = _rss_kib()
    return result


def spawn(phase: str, workdir: Path, args: argparse.Namespace, *, trace: bool = False) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--workdir",
        str(workdir),
        "--segment-kib",
        str(args.segment_kib),
        "--range-reads",
        str(args.range_reads),
    ]
    if trace:
        cmd.append("--tracemalloc")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def make_plaintext(path: Path, size: int) -> None:
    """Random bytes (incompressible, like a .warc.gz); written in 8 MiB chunks."""
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            n = min(8 * MIB, remaining)
            f.write(os.urandom(n))
            remaining -= n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size-mb", type=int, default=256, help="plaintext size in MiB (default 256)")
    p.add_argument("--segment-kib", type=int, default=1024, help="segment size (default 1024)")
    p.add_argument("--range-reads", type=int, default=1000, help="random 4 KiB range reads")
    p.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    p.add_argument("--tracemalloc", action="store_true", help="also measure Python allocations")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        print(json.dumps(run_phase(args)))
        return

    size = args.size_mb * MIB
    work = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=args.dir))
    try:
        make_plaintext(work / "plain.bin", size)
        phases = ("encrypt", "decrypt", "ranges", "encrypt-cpu", "decrypt-cpu")
        rows = [(name, spawn(name, work, args)) for name in phases]
        traced = spawn("encrypt", work, args, trace=True) if args.tracemalloc else None
        ct_size = (work / "cipher.vault").stat().st_size
        print(
            f"vault bench: {args.size_mb} MiB random plaintext, {args.segment_kib} KiB segments, "
            f"key-file provider, scratch {work}"
        )
        print(f"ciphertext {ct_size:,} B (overhead {ct_size - size:,} B)\n")
        print(f"{'phase':<13}{'seconds':>9}{'MiB/s':>10}{'peak RSS MiB':>14}{'growth MiB':>12}")
        for name, r in rows:
            peak, base = r["peak_rss_kib"] / 1024, r["baseline_rss_kib"] / 1024
            if name == "ranges":
                rate, label = f"{r['reads'] / r['seconds']:,.0f}/s", "ranges*"
            else:
                rate, label = f"{r['bytes'] / MIB / r['seconds']:,.0f}", name
            mem = (
                f"{peak:>14.1f}{peak - base:>12.1f}" if "cpu" not in name else f"{'-':>14}{'-':>12}"
            )
            print(f"{label:<13}{r['seconds']:>9.2f}{rate:>10}{mem}")
        print(f"\n* {args.range_reads} random 4 KiB reads via RangeReader (rate = reads/s)")
        print(
            "encrypt/decrypt: file to file, with sha256s, write and fsync (disk-bound).\n"
            "encrypt-cpu: in memory on min(size, 256 MiB), both sha256s, no disk; "
            "decrypt-cpu: AES-GCM only. RSS not meaningful for *-cpu."
        )
        if traced:
            print(
                f"tracemalloc peak while encrypting: {traced['tracemalloc_peak_kib'] / 1024:.2f} MiB"
            )
        with open(work / "plain.bin", "rb") as f:  # reference point: one sha256 pass
            t0 = time.perf_counter()
            h = hashlib.sha256()
            while chunk := f.read(MIB):
                h.update(chunk)
            secs = time.perf_counter() - t0
        print(f"reference: sha256 of the plaintext file {size / MIB / secs:,.0f} MiB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
