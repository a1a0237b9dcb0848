"""Benchmark: kmslab.envelope streaming and small-message speed and memory, against baselines measured in the same run.

Scenarios (each in its own child process, so its peak RSS (VmHWM) is its own):

* streaming (best of ``--rounds`` alternating runs), same input file (``--size``, default 1 GiB), output to /dev/null:
  - ``raw-gcm``: a bare AES-256-GCM stream over the file (``Cipher(AES, GCM).encryptor()`` with ``readinto``
    and ``update_into`` into reused 1 MiB buffers): the ceiling;
  - ``ours-enc`` / ``ours-dec``: ``encrypt_stream`` / ``decrypt_stream`` with the default 1 MiB frames;
  - ``esdk-enc`` / ``esdk-dec``: the AWS Encryption SDK 4.0.7 stream API, suite 0x0478 (its fastest committing
    suite, unsigned), 1 MiB frames and 1 MiB reads;
* small messages (1 KiB, raw AES key, no KMS), messages per second over ``--seconds`` each: ``ours`` without and
  with a ``DataKeyCache``, and the ESDK unsigned suite 0x0478; encrypt, decrypt of 256 distinct messages in
  turn (the headline decrypt figure: no per-process memo can help), and decrypt of one message over and over
  (what earlier runs measured). The variants run in one process, interleaved in 0.25 s slices, so they share
  the machine's load; each slice's rate is kept and the report gives the best and the median slice and the
  ratios to the ESDK, by the wall clock and by the thread's CPU time (steadier on a loaded machine); peak RSS
  comes from a run of each variant alone;
* end to end: ``kmslab envelope encrypt|decrypt --key raw:...`` file -> file, against a bare Python process that
  streams the same file -> file through AES-GCM (:data:`BARE_SCRIPT`; wall time including interpreter start-up),
  each with fsync (the CLI's default), without, and to /dev/null; plus start-up alone (``--help`` vs
  ``python -c pass``).

``--before DIR`` adds another copy of the package (a directory holding a ``kmslab`` package, for example
``git archive`` of an older commit) to every part of the run, for a before/after comparison under the same
load: ``before-enc``/``before-dec`` alternate with the other streaming scenarios; the small-message comparison
runs for each copy in turn (twice each, alternating), each against the ESDK in its own process, and the report
gives after/before of those ESDK-normalised rates; the CLI commands run for both copies.

Targets: streaming >= 0.6x raw-gcm and >= 2x the ESDK; small messages >= 10x the ESDK; peak RSS < 64 MiB;
CLI <= 1.25x the bare process, with fsync and without (the /dev/null pair, ~0.2 s, is start-up dominated and
printed for information).

Write pattern matters on this VM: 1 MiB writes at 1 MiB-aligned file offsets make the kernel (6.18, ext4 large
folios) allocate 1 MiB page-cache folios, and copying into them ran 3-5x slower here than into small folios
(likely cold memory: the virtio balloon reports freed high-order blocks to the host); see
``kmslab/envelope/_stream.py``. The bare baseline is timed both ways (1 MiB and 256 KiB writes) and the
faster counts. For the same reason a run's speed depends on what earlier runs freed, so the end-to-end
commands run in a different shuffled order each round.

Usage::

    .venv/bin/python bench/envelope.py                  # 1 GiB, about a minute
    .venv/bin/python bench/envelope.py --size 256M --seconds 1
    .venv/bin/python bench/envelope.py --small-only        # small messages only, about 30 s
    .venv/bin/python bench/envelope.py --cli-only --before /tmp/old   # end to end only, vs an older copy
    .venv/bin/python bench/envelope.py --size 256M --before /tmp/old  # everything, before and after
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MIB = 1024 * 1024
#: The end-to-end baseline: a bare Python process streaming a file -> file through AES-256-GCM the way a lean
#: program would: unbuffered ``readinto`` into a reused 1 MiB buffer (our frames are 1 MiB) and ``update_into``
#: into a reused output buffer (no allocation per chunk, less work than the CLI does). argv: src dst
#: fsync|nofsync WRITE: the 1 MiB output is written in slices of WRITE bytes (1048576: one write per chunk;
#: 262144: the slices our decrypt writes). The report judges the CLI against the faster of the two.
BARE_SCRIPT = """
import os, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
fsync, piece = sys.argv[3] == "fsync", int(sys.argv[4])
enc = Cipher(algorithms.AES(bytes(32)), modes.GCM(bytes(12))).encryptor()
buf = bytearray(1 << 20); out = bytearray((1 << 20) + 15); mv, omv = memoryview(buf), memoryview(out)
with open(sys.argv[1], "rb", buffering=0) as src, open(sys.argv[2], "wb", buffering=0) as dst:
    while n := src.readinto(mv):
        done = enc.update_into(mv[:n], omv)
        for i in range(0, done, piece):
            dst.write(omv[i : min(i + piece, done)])
    enc.finalize(); dst.write(enc.tag)
    if fsync:
        os.fsync(dst.fileno())
"""


def _peak_mib() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _raw_key() -> Any:
    from kmslab.envelope import RawAesKeyProvider

    return RawAesKeyProvider("bench", "key", bytes(range(32)))


def _esdk() -> tuple[Any, Any, Any]:
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    key = RawMasterKey(
        provider_id="bench",
        key_id=b"key",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=bytes(range(32)),
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    return client, key, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY


# -- child scenarios ---------------------------------------------------------------------------------------


def _scenario(name: str, src: str, dst: str, seconds: float) -> dict[str, Any]:  # noqa: C901 - a dispatch table
    if name == "raw-gcm":
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        enc = Cipher(algorithms.AES(bytes(32)), modes.GCM(bytes(12))).encryptor()
        buf, out = bytearray(MIB), bytearray(MIB + 15)
        mv, omv = memoryview(buf), memoryview(out)
        start = time.perf_counter()
        total = 0
        with Path(src).open("rb", buffering=0) as fin, Path(dst).open("wb", buffering=0) as fout:
            while n := fin.readinto(mv):
                fout.write(omv[: enc.update_into(mv[:n], omv)])
                total += n
            enc.finalize()
            fout.write(enc.tag)
        return {"seconds": time.perf_counter() - start, "bytes": total}
    if name in ("ours-enc", "ours-dec"):
        from kmslab.envelope import decrypt_stream, encrypt_stream

        provider = _raw_key()
        start = time.perf_counter()
        with Path(src).open("rb", buffering=0) as fin, Path(dst).open("wb", buffering=0) as fout:
            if name == "ours-enc":
                encrypt_stream(fin, fout, provider=provider)
            else:
                decrypt_stream(fin, fout, provider=provider)
        return {"seconds": time.perf_counter() - start, "bytes": Path(src).stat().st_size}
    if name in ("esdk-enc", "esdk-dec"):
        client, key, suite = _esdk()
        start = time.perf_counter()
        with Path(src).open("rb") as fin, Path(dst).open("wb") as fout:
            if name == "esdk-enc":
                stream = client.stream(mode="e", source=fin, key_provider=key, frame_length=MIB, algorithm=suite)
            else:
                stream = client.stream(mode="d", source=fin, key_provider=key)
            with stream:
                while chunk := stream.read(MIB):
                    fout.write(chunk)
        return {"seconds": time.perf_counter() - start, "bytes": Path(src).stat().st_size}
    if name.startswith("small-"):
        return _small(name, seconds)
    raise SystemExit(f"unknown scenario {name}")


def _rate(func: Any, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            func()
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


#: distinct messages each decrypt variant cycles through (more than any per-process memo of ours holds)
POOL = 256


def _small_ops(variant: str) -> tuple[Any, Any, Any]:
    """Return (encrypt one, decrypt the next of POOL distinct messages, decrypt one same message) for a variant.

    Distinct messages are the honest decrypt figure (no memo or cache of a parsed header can help beyond
    what the variant itself offers); the same-message figure is what earlier runs reported.
    """
    plaintext = os.urandom(1024)
    context = {"tenant": "bench", "purpose": "small"}
    if variant == "esdk":
        client, key, suite = _esdk()
        pool = [
            client.encrypt(source=plaintext, key_provider=key, encryption_context=context, algorithm=suite)[0]
            for _ in range(POOL)
        ]
        enc = lambda: client.encrypt(source=plaintext, key_provider=key, encryption_context=context, algorithm=suite)  # noqa: E731
        nxt = itertools.cycle(pool).__next__
        dec = lambda: client.decrypt(source=nxt(), key_provider=key)  # noqa: E731
        same = lambda: client.decrypt(source=pool[0], key_provider=key)  # noqa: E731
        return enc, dec, same
    from kmslab.envelope import DataKeyCache, decrypt, encrypt

    provider = _raw_key()
    cache = DataKeyCache(max_messages=2**32) if variant == "cached" else None
    # the cached variant decrypts messages written under a cache (they share data keys), with its own cache
    write_cache = DataKeyCache(max_messages=2**32) if variant == "cached" else None
    pool = [encrypt(plaintext, provider=provider, encryption_context=context, cache=write_cache) for _ in range(POOL)]
    dec_cache = DataKeyCache(max_messages=2**32) if variant == "cached" else None
    enc = lambda: encrypt(plaintext, provider=provider, encryption_context=context, cache=cache)  # noqa: E731
    nxt = itertools.cycle(pool).__next__
    dec = lambda: decrypt(nxt(), provider=provider, cache=dec_cache)  # noqa: E731
    same = lambda: decrypt(pool[0], provider=provider, cache=dec_cache)  # noqa: E731
    return enc, dec, same


SMALL_VARIANTS = ("ours", "cached", "esdk")


OPS = ("encrypt_per_s", "decrypt_per_s", "decrypt_same_per_s")


def _small(name: str, seconds: float) -> dict[str, Any]:
    """``small-rss-<variant>``: one variant alone (for its peak RSS); ``small-compare``: all variants in one
    process, interleaved in 0.25 s slices so they share the machine's load evenly. Besides the totals, each
    round's rate is kept so the report can give the best and the median round."""
    if name.startswith("small-rss-"):
        ops = _small_ops(name.removeprefix("small-rss-"))
        return {op: _rate(func, seconds / 6) for op, func in zip(OPS, ops, strict=True)}
    all_ops = {variant: _small_ops(variant) for variant in SMALL_VARIANTS}
    rounds: dict[tuple[str, str], list[float]] = {(v, op): [] for v in SMALL_VARIANTS for op in OPS}
    cpu_rounds: dict[tuple[str, str], list[float]] = {(v, op): [] for v in SMALL_VARIANTS for op in OPS}
    slices = max(1, int(seconds / 0.25))
    for _ in range(slices):
        for variant, funcs in all_ops.items():
            for op, func in zip(OPS, funcs, strict=True):
                count, start, cpu_start = 0, time.perf_counter(), time.thread_time()
                while time.perf_counter() - start < 0.25:
                    for _ in range(20):
                        func()
                    count += 20
                rounds[(variant, op)].append(count / (time.perf_counter() - start))
                cpu_rounds[(variant, op)].append(count / max(time.thread_time() - cpu_start, 1e-9))
    return {
        variant: {
            **{op: rounds[(variant, op)] for op in OPS},
            **{f"cpu_{op}": cpu_rounds[(variant, op)] for op in OPS},
        }
        for variant in SMALL_VARIANTS
    }


# -- parent ------------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _small_report(seconds: float, before: str | None = None) -> dict[str, dict[str, Any]]:
    """Run and print the small-message comparison; return its figures.

    Rates are per 0.25 s slice; the variants' slices interleave, so slice ``i`` of ours and of the ESDK ran
    under about the same load. Reported: the best and the median slice of each, and the ratio ours/ESDK
    of the best slices and the median of the per-slice ratios; by the wall clock and by the process's own
    CPU time (``time.thread_time``), which other processes on a loaded machine disturb far less.

    With ``before``, the comparison also runs for that copy of the package (see the module docstring) and
    the figures of both copies are returned under ``"before"`` and ``"after"``.
    """
    if before is not None:
        return _small_before_after(seconds, before)
    compared = _child("small-compare", seconds=seconds)
    small: dict[str, dict[str, Any]] = {}
    for variant in SMALL_VARIANTS:
        alone = _child(f"small-rss-{variant}", seconds=seconds)
        rates = compared[variant]
        row: dict[str, Any] = {"peak_rss_mib": alone["peak_rss_mib"], "slices": rates}
        for op in OPS:
            row[op] = max(rates[op])
            row[op.replace("_per_s", "_median_per_s")] = _median(rates[op])
        small[f"small-{variant}"] = row
    slices = len(compared["esdk"]["encrypt_per_s"])
    print(f"small 1 KiB messages, {slices} interleaved slices of 0.25 s; messages/s as best (median)")
    print(f"{'variant':<14} {'encrypt':>17} {'decrypt distinct':>17} {'decrypt same msg':>17} {'peak RSS MiB':>13}")
    for name, row in small.items():
        cells = " ".join(f"{row[op]:>8.0f} ({row[op.replace('_per_s', '_median_per_s')]:>6.0f})" for op in OPS)
        print(f"{name:<14} {cells} {row['peak_rss_mib']:>13.1f}")
    esdk = compared["esdk"]
    labels = ("encrypt", "decrypt distinct", "decrypt same")
    for name in ("small-ours", "small-cached"):
        ours = small[name]["slices"]
        for clock in ("wall", "cpu"):
            parts = []
            for op, label in zip(OPS, labels, strict=True):
                key = op if clock == "wall" else f"cpu_{op}"
                best = max(ours[key]) / max(esdk[key])
                per_slice = _median([a / b for a, b in zip(ours[key], esdk[key], strict=True)])
                parts.append(f"{label} {best:.1f}x best, {per_slice:.1f}x median")
                small[name][key.replace("_per_s", "_vs_esdk")] = {"best": best, "median": per_slice}
            print(f"{name} vs ESDK unsigned ({clock} clock): " + "; ".join(parts) + " (target >= 10)")
    return small


def _small_before_after(seconds: float, before: str) -> dict[str, dict[str, Any]]:
    """Run the small-message comparison for this tree and for ``before``, alternating (A B A B); print each
    copy's rates and ratios to the ESDK, and after/before of the ESDK-normalised median slices."""
    merged: dict[str, dict[str, dict[str, list[float]]]] = {"after": {}, "before": {}}
    for _ in range(2):
        for label, path in (("after", None), ("before", before)):
            run = _child("small-compare", seconds=seconds / 2, kmslab=path)
            for variant, rates in run.items():
                if variant == "peak_rss_mib":
                    continue
                into = merged[label].setdefault(variant, {})
                for key, values in rates.items():
                    into.setdefault(key, []).extend(values)
    out: dict[str, dict[str, Any]] = {}
    labels = ("encrypt", "decrypt distinct", "decrypt same")
    normalised: dict[str, dict[str, float]] = {}
    for label, compared in merged.items():
        print(f"small 1 KiB messages, {label}: messages/s as best (median) of interleaved 0.25 s slices")
        esdk = compared["esdk"]
        for name in ("ours", "cached"):
            rates = compared[name]
            cells = " ".join(f"{max(rates[op]):>8.0f} ({_median(rates[op]):>6.0f})" for op in OPS)
            print(f"  small-{name:<8} {cells}")
            for clock in ("wall", "cpu"):
                parts = []
                for op, text in zip(OPS, labels, strict=True):
                    key = op if clock == "wall" else f"cpu_{op}"
                    ratio = _median([a / b for a, b in zip(rates[key], esdk[key], strict=True)])
                    normalised.setdefault(f"{label}/{name}/{clock}", {})[op] = ratio
                    parts.append(f"{text} {ratio:.1f}x")
                print(f"  small-{name} vs ESDK ({clock} clock, median of per-slice ratios): " + "; ".join(parts))
        out[label] = {name: dict(rates) for name, rates in compared.items()}
    for name in ("ours", "cached"):
        for clock in ("wall", "cpu"):
            after, prior = normalised[f"after/{name}/{clock}"], normalised[f"before/{name}/{clock}"]
            parts = [f"{text} {after[op] / prior[op]:.2f}" for op, text in zip(OPS, labels, strict=True)]
            print(f"small-{name} after/before ({clock} clock, ESDK-normalised): " + ", ".join(parts))
    return out


def _child(
    name: str, src: str = "", dst: str = os.devnull, seconds: float = 2.0, kmslab: str | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", name, "--src", src, "--dst", dst, "--seconds", str(seconds)]
    if kmslab is not None:
        cmd += ["--kmslab", kmslab]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _parse_size(text: str) -> int:
    units = {"K": 1024, "M": MIB, "G": 1024 * MIB}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def _make_input(path: Path, size: int) -> None:
    block = os.urandom(16 * MIB + 4099)
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    stdout = subprocess.DEVNULL if cmd[-1] == "-" else subprocess.PIPE
    subprocess.run(cmd, check=True, stdout=stdout, stderr=subprocess.PIPE, timeout=900, env=env)
    return time.perf_counter() - start


def _cli_commands(
    work: Path, plain: Path, message: Path, keyfile: Path, before: str | None
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The end-to-end commands (name -> argv, extra environment), in the order one round runs them.

    ``bare_*`` is :data:`BARE_SCRIPT` (``1m``: one write per 1 MiB chunk; ``256k``: four); ``cli_*`` is the
    ``kmslab`` console script; ``before_cli_*`` the same with ``PYTHONPATH=<before>`` (another copy of the
    ``kmslab`` package, to compare two versions in one run). Suffixes: ``_fsync`` (the CLI default: fsync
    before the rename), ``_no_fsync``, ``_devnull`` (no file written; the CLI writes to stdout = /dev/null).
    """
    out = str(work / "out.bin")
    bare = [sys.executable, "-c", BARE_SCRIPT, str(plain)]
    raw = ["--key", f"raw:{keyfile}", "--namespace", "bench", "--key-name", "key"]
    clis = {"cli": {}} if before is None else {"cli": {}, "before_cli": {"PYTHONPATH": before}}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "python_start": ([sys.executable, "-c", "pass"], {}),
        **{
            f"{name}_help": ([str(Path(sys.executable).parent / "kmslab"), "envelope", "--help"], env)
            for name, env in clis.items()
        },
    }
    for sync_name, flag, dst in (("fsync", [], out), ("no_fsync", ["--no-fsync"], out), ("devnull", [], "-")):
        bare_dst, bare_sync = (os.devnull, "nofsync") if dst == "-" else (out, sync_name.replace("_", ""))
        for piece, size in (("1m", MIB), ("256k", 256 * 1024)):
            commands[f"bare_{piece}_{sync_name}"] = ([*bare, bare_dst, bare_sync, str(size)], {})
        for name, env in clis.items():
            base = [str(Path(sys.executable).parent / "kmslab"), "envelope"]
            commands[f"{name}_encrypt_{sync_name}"] = (
                [*base, "encrypt", *raw, *flag, "--in", str(plain), "--out", dst],
                env,
            )
            commands[f"{name}_decrypt_{sync_name}"] = (
                [*base, "decrypt", *raw, *flag, "--in", str(message), "--out", dst],
                env,
            )
    return commands


def _cli_runs(
    work: Path, plain: Path, message: Path, keyfile: Path, rounds: int, before: str | None, no_bytecode: bool
) -> dict[str, list[float]]:
    """Time every end-to-end command in ``rounds`` alternating rounds (seconds; start-up commands 5x a round).

    Every command (bare and CLI alike) runs with byte-compiled modules cached, as an installed package has
    them: this tree runs with ``PYTHONDONTWRITEBYTECODE=1``, which would make every ``kmslab`` start compile
    its sources again (``--no-bytecode`` keeps that). The cache goes to ``PYTHONPYCACHEPREFIX`` in the bench's
    temporary directory (nothing is written in the tree) and is warmed by a round on a 4 MiB input first.
    ``os.sync()`` runs before each command so one run's writeback does not throttle the next.
    """
    env = dict(os.environ)
    if not no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    small_plain, small_message = work / "warm.bin", work / "warm.enc"
    _make_input(small_plain, 4 * MIB)
    warm = _cli_commands(work, small_plain, small_message, keyfile, before)
    _timed(warm["cli_encrypt_no_fsync"][0][:-1] + [str(small_message)], env)
    for cmd, extra in warm.values():
        _timed(cmd, {**env, **extra})
        (work / "out.bin").unlink(missing_ok=True)
    commands = _cli_commands(work, plain, message, keyfile, before)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for number in range(rounds):
        # a different (seeded) order each round: on this VM a run's speed depends on what the runs before it
        # freed (see the module docstring), so no command should sit in the same slot every round
        order = list(commands.items())
        random.Random(number).shuffle(order)
        for name, (cmd, extra) in order:
            repeat = 5 if name.endswith(("_start", "_help")) else 1
            for _ in range(repeat):
                os.sync()
                times[name].append(_timed(cmd, {**env, **extra}))
                (work / "out.bin").unlink(missing_ok=True)
    return times


def _cli_summary(times: dict[str, list[float]], rounds: int) -> dict[str, float]:
    """Print the end-to-end figures and the ratios of the best runs; the target is judged on the fsync and
    no-fsync pairs. Returns the best time of each command."""
    c = {name: min(runs) for name, runs in times.items()}
    print(f"end to end, file -> file, {rounds} alternating rounds in shuffled order (seconds):")
    print(f"  {'command':<28} {'best':>6} {'median':>7} {'worst':>6}")
    for name, runs in times.items():
        print(f"  {name:<28} {min(runs):6.3f} {_median(runs):7.3f} {max(runs):6.3f}")
    print(
        f"start-up: kmslab envelope --help {c['cli_help']:.3f} s vs python -c pass {c['python_start']:.3f} s"
        + (f" (before: {c['before_cli_help']:.3f} s)" if "before_cli_help" in c else "")
    )
    prefixes = ["cli", "before_cli"] if "before_cli_help" in c else ["cli"]
    for sync_name, judged in (("fsync", True), ("no_fsync", True), ("devnull", False)):
        bare = min(c[f"bare_1m_{sync_name}"], c[f"bare_256k_{sync_name}"])
        for prefix in prefixes:
            parts = []
            for verb in ("encrypt", "decrypt"):
                ratio = c[f"{prefix}_{verb}_{sync_name}"] / bare
                verdict = ("ok" if ratio <= 1.25 else "MISSED") if judged else "info only"
                parts.append(f"{verb} {ratio:.2f}x ({verdict})")
            label = f"{prefix} vs bare ({sync_name}, bare = faster of 1m/256k = {bare:.3f} s)"
            print(f"{label:<62}: " + ", ".join(parts))
    print("target: CLI <= 1.25x the bare process, judged with fsync and without; /dev/null is start-up dominated")
    return c


def main() -> None:  # noqa: C901, PLR0915 - a linear report
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G", help="streaming input size (e.g. 1G, 256M); default 1 GiB")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per small-message measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per scenario (best counts)")
    parser.add_argument("--small-only", action="store_true", help="only the small-message comparison (fast)")
    parser.add_argument("--cli-only", action="store_true", help="only the end-to-end CLI comparison")
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI comparison")
    parser.add_argument("--before", metavar="DIR", help="also time the CLI of the kmslab package copy in DIR")
    parser.add_argument("--no-bytecode", action="store_true", help="end to end: keep PYTHONDONTWRITEBYTECODE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--kmslab", help=argparse.SUPPRESS)  # child: import kmslab from this directory
    parser.add_argument("--src", default="", help=argparse.SUPPRESS)
    parser.add_argument("--dst", default=os.devnull, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.kmslab:
            sys.path.insert(0, args.kmslab)
        result = _scenario(args.child, args.src, args.dst, args.seconds)
        result["peak_rss_mib"] = _peak_mib()
        print(json.dumps(result))
        return

    if args.small_only:
        small = _small_report(args.seconds, args.before)
        if args.before is None:
            peak = max(small[name]["peak_rss_mib"] for name in ("small-ours", "small-cached"))
            print(f"peak RSS of our small-message runs: {peak:.1f} MiB (target < 64)")
        print(json.dumps({"small_1kib": small}, default=float))
        return
    size = _parse_size(args.size)
    figures: dict[str, Any] = {"size_bytes": size}
    if args.cli_only:
        with tempfile.TemporaryDirectory(prefix="bench-envelope-") as tmp:
            work = Path(tmp)
            plain, ours_ct, keyfile = work / "plain.bin", work / "ours.enc", work / "key.bin"
            _make_input(plain, size)
            keyfile.write_bytes(bytes(range(32)))
            _child("ours-enc", str(plain), str(ours_ct))
            figures["cli_runs"] = _cli_runs(work, plain, ours_ct, keyfile, args.rounds, args.before, args.no_bytecode)
        figures["cli"] = _cli_summary(figures["cli_runs"], args.rounds)
        print(json.dumps(figures, default=float))
        return
    with tempfile.TemporaryDirectory(prefix="bench-envelope-") as tmp:
        work = Path(tmp)
        plain, ours_ct, esdk_ct = work / "plain.bin", work / "ours.enc", work / "esdk.enc"
        _make_input(plain, size)
        keyfile = work / "key.bin"
        keyfile.write_bytes(bytes(range(32)))
        # prepare both ciphertexts (timed too: the encrypt figures below are to /dev/null)
        _child("ours-enc", str(plain), str(ours_ct))
        _child("esdk-enc", str(plain), str(esdk_ct))
        inputs: dict[str, tuple[str, Path, str | None]] = {
            "raw-gcm": ("raw-gcm", plain, None),
            "ours-enc": ("ours-enc", plain, None),
            "ours-dec": ("ours-dec", ours_ct, None),
            "esdk-enc": ("esdk-enc", plain, None),
            "esdk-dec": ("esdk-dec", esdk_ct, None),
        }
        if args.before:
            inputs["before-enc"] = ("ours-enc", plain, args.before)
            inputs["before-dec"] = ("ours-dec", ours_ct, args.before)
        # Alternate the scenarios for --rounds rounds and keep each one's fastest run: on a shared machine
        # this compares the scenarios under similar load.
        runs: dict[str, dict[str, Any]] = {}
        for number in range(args.rounds):
            order = list(inputs)
            if args.before:  # each before-* right next to its counterpart, first in every other round
                order = [n for n in order if not n.startswith("before-")]
                for verb in ("enc", "dec"):
                    at = order.index(f"ours-{verb}") + (number % 2)
                    order.insert(at, f"before-{verb}")
            for name in order:
                scenario, src, kmslab = inputs[name]
                run = _child(scenario, str(src), kmslab=kmslab)
                if name not in runs or run["seconds"] < runs[name]["seconds"]:
                    run["peak_rss_mib"] = max(run["peak_rss_mib"], runs.get(name, run)["peak_rss_mib"])
                    runs[name] = run
        esdk_ct.unlink()
        for run in runs.values():
            run["gb_per_s"] = run["bytes"] / run["seconds"] / 1e9
        figures["streaming"] = runs

        if not args.no_cli:
            figures["cli_runs"] = _cli_runs(work, plain, ours_ct, keyfile, args.rounds, args.before, args.no_bytecode)
    gcm = runs["raw-gcm"]["gb_per_s"]
    print(f"== kmslab.envelope benchmark: streaming {size / MIB:.0f} MiB, small messages 1 KiB")
    print(f"{'scenario':<12} {'GB/s':>7} {'peak RSS MiB':>13}")
    for name, run in runs.items():
        print(f"{name:<12} {run['gb_per_s']:>7.2f} {run['peak_rss_mib']:>13.1f}")
    for verb, ours, esdk in (("encrypt", "ours-enc", "esdk-enc"), ("decrypt", "ours-dec", "esdk-dec")):
        r_gcm = runs[ours]["gb_per_s"] / gcm
        r_esdk = runs[ours]["gb_per_s"] / runs[esdk]["gb_per_s"]
        print(f"streaming {verb}: {r_gcm:.2f}x raw AES-GCM (target >= 0.6), {r_esdk:.2f}x ESDK (target >= 2)")
        if args.before:
            prior = runs[ours.replace("ours", "before")]
            print(
                f"streaming {verb} before: {prior['gb_per_s'] / gcm:.2f}x raw AES-GCM; "
                f"after/before {runs[ours]['gb_per_s'] / prior['gb_per_s']:.2f}"
            )
    small = _small_report(args.seconds, args.before)
    figures["small_1kib"] = small
    ours_runs = [runs["ours-enc"], runs["ours-dec"]]
    if args.before is None:
        ours_runs += [small["small-ours"], small["small-cached"]]
    peak = max(r["peak_rss_mib"] for r in ours_runs)
    print(f"peak RSS of our scenarios: {peak:.1f} MiB (target < 64)")
    if not args.no_cli:
        figures["cli"] = _cli_summary(figures["cli_runs"], args.rounds)
    print(json.dumps(figures, default=float))


if __name__ == "__main__":
    main()
