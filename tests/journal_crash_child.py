"""Child process for the journal crash tests (run by tests/test_journal.py, killed at random).

Mode "crash": continues from the journal's meta ("last" value appended, "consumed" value
removed) and loops forever: append a batch of the next numbers with meta last=<new last> in
one transaction, print "A <last>" once committed; now and then peek the oldest items and
remove them with meta consumed=<their last number>, printing "R <consumed>". Every printed
line is flushed, so the parent knows exactly what was acknowledged before it killed us.

Mode "writer": appends `--batches` batches of `--batch` values "<writer>:<n>" and exits
(several writers run at once against one directory).
"""

from __future__ import annotations

import argparse
import os
import random
import sys

from ikasched_common.journal import DiskJournal


def value_of(number: int) -> bytes:
    # varying sizes, so pages and the WAL see different shapes
    return f"{number}:".encode() + b"x" * (number % 97)


def number_of(value: bytes) -> int:
    return int(value.split(b":", 1)[0])


def as_int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def crash_loop(journal: DiskJournal, rng: random.Random) -> None:
    last = as_int(journal.get_meta("last", 0))
    while True:
        size = rng.randint(1, 50)
        values = [value_of(n) for n in range(last + 1, last + size + 1)]
        journal.append(values, {"last": last + size})
        last += size
        print(f"A {last}", flush=True)
        if rng.random() < 0.5:  # consume a little faster than we produce: bounded size
            items = journal.peek(rng.randint(1, 120))
            if items:
                upto = number_of(items[-1].value)
                journal.remove([i.key for i in items], {"consumed": upto})
                print(f"R {upto}", flush=True)


def writer(journal: DiskJournal, name: str, batches: int, batch: int) -> None:
    for b in range(batches):
        journal.append([f"{name}:{b * batch + i}".encode() for i in range(batch)])
    print("done", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--durability", choices=["crash", "power"], default="crash")
    parser.add_argument("--mode", choices=["crash", "writer"], default="crash")
    parser.add_argument("--name", default="w")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args(argv)
    journal = DiskJournal(args.directory, durability=args.durability)
    if args.mode == "writer":
        writer(journal, args.name, args.batches, args.batch)
    else:
        crash_loop(journal, random.Random(os.getpid()))
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
