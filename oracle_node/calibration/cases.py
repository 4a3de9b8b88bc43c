"""What is measured against the reference: honest variants, cheats and probes.

A case produces one float vector per corpus entry; :mod:`.stats` commits and compares them.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from oracle_node.calibration.embedding import (
    FloatMatrix,
    Precision,
    commitments,
    embed_as,
    model_input_ids,
    normalise,
    static_embedding_average,
    token_embeddings,
    with_fewer_layers,
    with_int8_weights,
)
from oracle_node.inference.embedder import Embedder

BoolVector = npt.NDArray[np.bool_]
Group = Literal["honest", "cheat", "probe"]

NOISE_SEED = 20_240_604
FIXED_NOISE_SIGMAS = (0.1, 0.03, 0.01)
"""Per-component noise std-devs any sensible threshold catches (expected cosine 0.45, 0.86, 0.98)."""
THRESHOLD_NOISE_FACTORS = (2.0, 1.4, 1.0, 0.7, 0.5)
"""Multiples of the noise level whose expected cosine equals the threshold: spans caught to passing."""
FIRST_TOKENS = 8


@dataclass
class Context:
    """Everything a case producer may use: the node's embedder, the corpus and the reference vectors."""

    embedder: Embedder
    texts: list[str]
    reference: FloatMatrix
    reference_threads: int
    _tokens: list[FloatMatrix] | None = None
    _ids: list[list[int]] | None = None
    _on_device: dict[str, Embedder] = field(default_factory=dict)

    def token_embeddings(self) -> list[FloatMatrix]:
        """Computed once and shared by the pooling cheats."""
        if self._tokens is None:
            self._tokens = token_embeddings(self.embedder, self.texts)
        return self._tokens

    def input_ids(self) -> list[list[int]]:
        if self._ids is None:
            self._ids = model_input_ids(self.embedder, self.texts)
        return self._ids

    def embedder_on(self, device: str) -> Embedder:
        """The node's Embedder loaded on ``device``, as a node started with that device runs it."""
        if device == self.embedder.device:
            return self.embedder
        if device not in self._on_device:
            self._on_device[device] = Embedder(self.embedder.model_dir, device=device, batch_size=self.embedder.batch_size)
        return self._on_device[device]


@dataclass(frozen=True)
class Produced:
    """A case's float vectors, one per corpus entry; ``included`` marks entries it really changes."""

    vectors: FloatMatrix
    included: BoolVector


class Skip(Exception):
    """A case cannot run on this machine; its message is recorded as a note."""


Producer = Callable[[Context], Produced]


@dataclass(frozen=True)
class Case:
    name: str
    group: Group
    description: str
    produce: Producer


def everything(vectors: FloatMatrix) -> Produced:
    return Produced(vectors=vectors, included=np.ones(len(vectors), dtype=np.bool_))


# --------------------------------------------------------------------------------------------
# Honest variants: the registered weights, run differently
# --------------------------------------------------------------------------------------------


def honest(
    batch_size: int | None = None,
    precision: Precision = "fp32",
    threads: int | None = None,
    device: str | None = None,
) -> Producer:
    """The node's embedder with one setting changed; ``None`` keeps the node's own."""

    def produce(ctx: Context) -> Produced:
        if threads is not None and threads == ctx.reference_threads:
            raise Skip(f"the reference already runs with {threads} thread(s)")
        embedder = ctx.embedder if device is None else ctx.embedder_on(device)
        if precision != "fp32":
            probe_precision(embedder, precision)
        return everything(embed_as(embedder, ctx.texts, batch_size=batch_size, precision=precision, threads=threads))

    return produce


def probe_precision(embedder: Embedder, precision: Precision) -> None:
    """Raise :class:`Skip` when autocast to ``precision`` fails on the embedder's device."""
    try:
        embed_as(embedder, ["probe"], precision=precision)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise Skip(f"{precision} autocast unsupported on {embedder.device}: {exc}") from exc


def honest_cases(device: str) -> list[Case]:
    cases = [
        Case("fp32-b64-repeat", "honest", "fp32, batch 64, run again (determinism)", honest()),
        Case("fp32-b1", "honest", "fp32, batch 1 (no padding)", honest(batch_size=1)),
        Case("fp32-b64-1thread", "honest", "fp32, batch 64, torch 1 thread", honest(threads=1)),
        Case("bf16-autocast", "honest", "bf16 autocast, batch 64", honest(precision="bf16")),
        Case("fp16-autocast", "honest", "fp16 autocast, batch 64", honest(precision="fp16")),
    ]
    if device != "cpu":
        precisions: tuple[Precision, ...] = ("fp32", "fp16", "bf16")
        for precision in precisions:
            cases.append(
                Case(
                    f"{device}-{precision}",
                    "honest",
                    f"{precision} on {device}, batch 64",
                    honest(precision=precision, device=device),
                )
            )
    return cases


# --------------------------------------------------------------------------------------------
# Cheats: anything but the registered computation
# --------------------------------------------------------------------------------------------


def cheat_model(build: Callable[[Embedder], Embedder]) -> Producer:
    """Another model behind the node's embedding call."""

    def produce(ctx: Context) -> Produced:
        return everything(build(ctx.embedder).embed(ctx.texts))

    return produce


def cut_to(layers: int) -> Callable[[Embedder], Embedder]:
    def build(embedder: Embedder) -> Embedder:
        return with_fewer_layers(embedder, layers)

    return build


def cheat_pooling(mode: Literal["cls", "max"]) -> Producer:
    def produce(ctx: Context) -> Produced:
        tokens = ctx.token_embeddings()
        pooled = [t[0] if mode == "cls" else t.max(axis=0) for t in tokens]
        return everything(normalise(np.stack(pooled)))

    return produce


def first_half_words(text: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, math.ceil(len(words) / 2))])


def shuffle_words(text: str) -> str:
    """The same words in another order, seeded by the text so every run shuffles identically."""
    words = text.split()
    rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
    for _ in range(10):
        shuffled = words[:]
        rng.shuffle(shuffled)
        if shuffled != words:
            return " ".join(shuffled)
    return " ".join(words)


def cheat_input(transform: Callable[[str], str]) -> Producer:
    """Embed a transformed input; entries whose model input is unchanged are excluded (no cheat)."""

    def produce(ctx: Context) -> Produced:
        altered = [transform(t) for t in ctx.texts]
        changed = np.array(
            [a != b for a, b in zip(ctx.input_ids(), model_input_ids(ctx.embedder, altered), strict=False)],
            dtype=np.bool_,
        )
        return Produced(vectors=ctx.embedder.embed(altered), included=changed)

    return produce


def cheat_first_tokens(ctx: Context) -> Produced:
    """Only the first 8 word pieces reach the transformer ([CLS] + 8 + [SEP])."""
    limit = FIRST_TOKENS + 2
    changed = np.array([len(ids) > limit for ids in ctx.input_ids()], dtype=np.bool_)
    model = ctx.embedder.model
    previous = model.max_seq_length
    model.max_seq_length = limit
    try:
        vectors = ctx.embedder.embed(ctx.texts)
    finally:
        model.max_seq_length = previous
    return Produced(vectors=vectors, included=changed)


def derangement(count: int, seed: int = NOISE_SEED) -> npt.NDArray[np.int64]:
    """A fixed permutation with no fixed point: entry i is answered with entry perm[i] != i."""
    if count < 2:
        return np.zeros(count, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(count)
    perm = np.empty(count, dtype=np.int64)
    perm[order] = np.roll(order, -1)
    return perm


def cheat_other_sentence(ctx: Context) -> Produced:
    return everything(ctx.reference[derangement(len(ctx.texts))])


def cheat_static_embedding(ctx: Context) -> Produced:
    return everything(static_embedding_average(ctx.embedder, ctx.texts))


def cheat_cases() -> list[Case]:
    cases = [
        Case("int8-dynamic", "cheat", "nn.Linear weights dynamically quantised to int8", cheat_model(with_int8_weights))
    ]
    for layers in (5, 3, 2, 1):
        cases.append(
            Case(
                f"layers-{layers}of6",
                "cheat",
                f"first {layers} of 6 transformer layers",
                cheat_model(cut_to(layers)),
            )
        )
    cases += [
        Case("embeddings-only", "cheat", "embedding layer only (0 of 6 layers), mean pooled", cheat_model(cut_to(0))),
        Case(
            "static-word-avg",
            "cheat",
            "average of input word-piece embeddings (no transformer)",
            cheat_static_embedding,
        ),
        Case("pool-cls", "cheat", "CLS-token pooling instead of mean", cheat_pooling("cls")),
        Case("pool-max", "cheat", "max pooling instead of mean", cheat_pooling("max")),
        Case("half-words", "cheat", "input cut to its first half of words", cheat_input(first_half_words)),
        Case("first-8-tokens", "cheat", "input cut to its first 8 word pieces", cheat_first_tokens),
        Case("shuffled-words", "cheat", "input words shuffled", cheat_input(shuffle_words)),
        Case("other-sentence", "cheat", "honest vector of another corpus sentence", cheat_other_sentence),
    ]
    return cases


# --------------------------------------------------------------------------------------------
# Probes: reported, not used to choose the threshold
# --------------------------------------------------------------------------------------------


def identical_input_pairs(ids: Sequence[tuple[int, ...]]) -> list[tuple[int, int]]:
    """Pairs of distinct corpus texts that the tokenizer turns into the same model input."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, key in enumerate(ids):
        groups.setdefault(key, []).append(i)
    return [(a, b) for members in groups.values() for k, a in enumerate(members) for b in members[k + 1 :]]


def probe_nearest_sentence(ctx: Context) -> Produced:
    """Each entry answered with the most similar other corpus entry: a semantic-cache replay.

    Entries whose model input equals another's (MiniLM is uncased and maps unknown characters to
    [UNK]) are the same computation, not a replay, so such pairs are not candidates.
    """
    q = commitments(ctx.reference).astype(np.float64)
    unit = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    ids = [tuple(x) for x in ctx.input_ids()]
    for i, j in identical_input_pairs(ids):
        sims[i, j] = sims[j, i] = -np.inf
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argmax(sims, axis=1)
    included = np.isfinite(sims[np.arange(len(ids)), nearest])
    return Produced(vectors=ctx.reference[nearest], included=np.asarray(included, dtype=np.bool_))


def noise_sigma_for_cosine(target: float, dim: int) -> float:
    """Per-component std-dev whose expected cosine to a unit vector is ``target``.

    With n ~ N(0, s^2 I) in d dimensions, |n|^2 ~ d s^2 and cos(v, v + n) ~ 1 / sqrt(1 + d s^2).
    """
    return math.sqrt(max(1.0 / (target * target) - 1.0, 0.0) / dim)


def probe_noise(sigma: float) -> Producer:
    def produce(ctx: Context) -> Produced:
        seed = NOISE_SEED + int(round(sigma * 1e9))
        noise = np.random.default_rng(seed).normal(0.0, sigma, size=ctx.reference.shape)
        return everything(np.asarray(ctx.reference + noise, dtype=np.float32))

    return produce


def noise_cases(threshold: float, dim: int) -> list[Case]:
    """Noise levels spanning obviously caught to near the chosen threshold."""
    at_threshold = noise_sigma_for_cosine(threshold, dim)
    sigmas = list(FIXED_NOISE_SIGMAS) + [f * at_threshold for f in THRESHOLD_NOISE_FACTORS]
    cases = []
    for sigma in sorted(set(sigmas), reverse=True):
        expected = 1.0 / math.sqrt(1.0 + dim * sigma * sigma)
        cases.append(
            Case(
                f"noise-{sigma:.2e}",
                "probe",
                f"honest vector + N(0, {sigma:.2e}^2) per component (expected cosine {expected:.5f})",
                probe_noise(sigma),
            )
        )
    return cases


def nearest_case() -> Case:
    return Case(
        "nearest-sentence", "probe", "honest vector of the most similar other corpus entry", probe_nearest_sentence
    )
