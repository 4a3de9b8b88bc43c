"""A corpus of distinct, varied sentences built in code (no downloads), deterministic per size."""

from __future__ import annotations

import itertools
import random

SUBJECTS = (
    "The river delta", "A retired violinist", "Our quarterly revenue", "The mitochondria", "A rollup sequencer",
    "The village bakery", "An autonomous drone", "The central bank", "A migrating flock of geese",
    "The compiler's optimizer", "A volcanic island", "The hospital's night shift", "An open-source maintainer",
    "The chess grandmaster", "A freight train", "The coral reef", "A startup founder", "The medieval castle",
    "A quantum processor", "The marathon runner", "La bibliothèque municipale", "Der alte Leuchtturm",
    "El mercado central", "A neural network", "The tax auditor", "A thunderstorm over the plains",
)
PREDICATES = (
    "slowly reshaped", "was praised for", "quietly doubled", "depends heavily on", "accidentally corrupted",
    "celebrated the anniversary of", "struggled to explain", "was rebuilt after", "consistently outperformed",
    "raised serious questions about", "spent the winter studying", "keeps a detailed record of",
    "was fined because of", "inspired a documentary about", "nearly collapsed under", "optimised the cost of",
)
OBJECTS = (
    "the coastline's sediment", "a forgotten Baroque sonata", "the interest-rate forecast", "cellular respiration",
    "the batch of pending transactions", "the sourdough starter", "the warehouse inventory", "inflation expectations",
    "the autumn migration route", "a tight inner loop", "the lava flow", "the emergency triage protocol",
    "a long-standing memory leak", "the endgame with two rooks", "the timetable for overnight cargo",
    "ocean acidification", "the seed funding round", "its crumbling north tower", "error-corrected qubits",
    "the final ten kilometres",
)
CONTEXTS = (
    "during the drought.", "before the festival began.", "according to the annual report.",
    "in a peer-reviewed study.", "after the network upgrade.", "while the town slept.", "despite strong winds.",
    "as regulators watched closely.", "for the third year running.", "in under a minute.", "with surprising grace.",
    "to everyone's relief.",
)
EXTRAS = (
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "SELECT name, COUNT(*) FROM jobs GROUP BY name HAVING COUNT(*) > 3;",
    "🚀 Launch day! The whole team stayed up to watch the first block.",
    "東京の桜は三月の終わりに満開になります。",
    "Roses are red, violets are blue, verifiable inference is waiting for you.",
    "Q: What is a commit-reveal scheme? A: Commit to a hash first, reveal the value later.",
)


def sentences(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct sentences: a few fixed oddities (code, SQL, emoji, Japanese), then
    subject-predicate-object-context combinations in a seeded random order."""
    combos = list(itertools.product(SUBJECTS, PREDICATES, OBJECTS, CONTEXTS))
    random.Random(seed).shuffle(combos)
    built = [f"{s} {p} {o} {c}" for s, p, o, c in combos]
    pool = list(EXTRAS) + built
    if count > len(pool):
        raise ValueError(f"the corpus holds {len(pool)} sentences; {count} were asked for")
    return pool[:count]
