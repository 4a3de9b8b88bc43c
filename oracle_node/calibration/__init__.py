"""Calibrate the on-chain cosine threshold: does it separate honest nodes from cheats?

For every sentence of ``docs/calibration/corpus.jsonl`` the calibration computes the *reference*
vector through the node's own embedding path: :class:`oracle_node.inference.embedder.Embedder`
(MiniLM from its package, CPU, the node's default batch size, unit-normalised) and the node's
commitment, ``infera.vectors.quantize_packed``. A threshold is only valid for the exact embedding
path that the node runs, so nothing here re-implements it. Each reference is compared, on the int8
vectors with ``infera.vectors.cosine``, to

* honest variants: the same registered weights run differently (batch 1, one thread, bf16/fp16
  autocast, a repeat run, optionally an accelerator) -- their *lowest* cosine must pass;
* cheats: anything but the registered computation (int8 weights, fewer layers, other pooling,
  altered input, another sentence's vector, a static word-embedding average) -- their *highest*
  cosine must fail;
* probes, which are reported but do not set the threshold: Gaussian noise added to the honest
  vector at levels around the threshold, and the vector of the corpus's nearest other sentence.

It writes ``all-minilm-l6-v2.{json,md,png}`` to ``--out`` and refreshes the generated section of
``docs/verification.md``. Run ``.venv/bin/python -m oracle_node.calibration`` (``make calibrate``);
``--limit N`` (N spread-out entries) and ``--only CASE,...`` give quick runs, written to a temporary
folder unless ``--out`` is given, so the published evidence is never replaced by a partial run.

Modules: :mod:`.corpus` (the JSONL corpus), :mod:`.embedding` (the node's path and the knobs the
variants turn), :mod:`.cases` (honest variants, cheats, probes), :mod:`.stats` (cosines and
summaries), :mod:`.threshold` (the policy), :mod:`.run` (one calibration), :mod:`.report` (JSON and
markdown), :mod:`.plot` (the PNG; matplotlib is only needed here), :mod:`.cli`.
"""
