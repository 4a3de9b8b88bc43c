"""Check the oracle node's embedding path on CUDA against the CPU, with the same weights on both.

Loads :class:`oracle_node.inference.embedder.Embedder` on the CPU and on CUDA from one model folder,
embeds a fixed, generated set of about 500 texts (several languages and scripts, code, numbers,
emoji, very short and very long inputs, a few over 512 tokens) and reports:

- the float cosine between each text's CPU and CUDA vectors (min, median);
- the integer cosine between their int8-quantized packed vectors, and whether every pair passes the
  contract's agreement rule (:func:`infera.vectors.agrees`) at the calibrated threshold;
- sentences/s on CUDA at batch sizes 1, 16, 64 and 256, and on the CPU at batch 64, in one run.

The weights digest is not checked against the model registry, so a converted copy of the weights
(for example float16, upcast on load) can be used; the report names the weights file's sha256.

Run from the repository root (the script does not touch ``sys.path``)::

    PYTHONPATH=.:sdk python3 benchmarks/cuda_check.py --model-dir DIR --out FILE [--cpu-only]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from infera import vectors
from oracle_node.inference.embedder import Embedder, weights_digest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CALIBRATION = REPO_ROOT / "docs" / "calibration" / "all-minilm-l6-v2.json"
CUDA_BATCH_SIZES = (1, 16, 64, 256)
CPU_BATCH_SIZE = 64
SEED = 20251125

FloatMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Text:
    category: str
    text: str


# --------------------------------------------------------------------------------------------------
# Corpus: generated deterministically from the seed, no files needed.

_LANGUAGES: dict[str, tuple[str, ...]] = {
    "en": (
        "The committee approved the budget after a long debate",
        "Rain is expected across the northern valleys by Thursday evening",
        "She fixed the bicycle chain with a borrowed wrench",
        "Interest rates were left unchanged for the third month in a row",
        "The museum reopens with a new wing devoted to early photography",
        "Our train was delayed because of a signal failure near the bridge",
    ),
    "de": (
        "Der Zug nach Hamburg fährt heute von Gleis sieben ab",
        "Die Bäckerei an der Ecke verkauft das beste Roggenbrot der Stadt",
        "Wir haben die Besprechung auf nächsten Dienstag verschoben",
        "Straßenbahnen und Busse verkehren am Feiertag nach dem Sonntagsfahrplan",
    ),
    "fr": (
        "Le musée ouvrira ses portes à dix heures précises",
        "Les élèves ont planté des arbres fruitiers derrière l'école",
        "Il faut réserver la salle au moins deux semaines à l'avance",
        "La boulangère a ajouté une tarte aux pommes à la commande",
    ),
    "es": (
        "La reunión se canceló porque faltaba la mitad del equipo",
        "El río creció tanto que cerraron el puente viejo",
        "Mañana probaremos la nueva versión del programa con los clientes",
        "¿Dónde está la estación de autobuses más cercana?",
    ),
    "ru": (
        "Вчера в Москве прошёл сильный снегопад",
        "Библиотека работает без выходных до конца месяца",
        "Мы обсудили план проекта и распределили задачи",
        "Поезд прибыл на вокзал с опозданием на двадцать минут",
    ),
    "zh": (
        "今天的天气非常好，我们去公园散步吧",
        "这家餐厅的饺子特别好吃",
        "会议推迟到下周三下午三点",
        "他用了三年时间写完这本小说",
    ),
    "ja": (
        "東京の桜は今週末に満開になる予定です",
        "新しい駅ビルには本屋とカフェが入っています",
        "昨日は遅くまで会議の資料を作っていました",
    ),
    "ko": (
        "내일 아침 일찍 부산으로 출발합니다",
        "이 식당의 김치찌개는 정말 맛있어요",
        "회의 자료를 오늘 저녁까지 보내 주세요",
    ),
    "ar": (
        "ذهبت إلى السوق لشراء الخضروات الطازجة",
        "سيعقد الاجتماع في القاعة الكبرى يوم الأحد",
        "تعلمت القراءة من جدتي عندما كنت صغيرا",
    ),
    "hi": (
        "मैं कल सुबह दिल्ली जा रहा हूँ",
        "बारिश के कारण मैच रद्द कर दिया गया",
        "पुस्तकालय रविवार को बंद रहता है",
    ),
    "el": (
        "Το πλοίο για τη Σαντορίνη αναχωρεί στις οκτώ",
        "Η βιβλιοθήκη θα παραμείνει κλειστή την Κυριακή",
    ),
    "tr": (
        "Yarın sabah erkenden İstanbul'a gidiyoruz",
        "Kütüphane hafta sonu da açık olacak",
    ),
    "pl": (
        "Pociąg do Krakowa odjeżdża z peronu trzeciego",
        "Zażółć gęślą jaźń, powiedział nauczyciel z uśmiechem",
    ),
    "vi": (
        "Hôm nay trời mưa nên chúng tôi ở nhà đọc sách",
        "Cửa hàng mở cửa từ tám giờ sáng đến mười giờ tối",
    ),
    "he": (
        "הרכבת לתל אביב יוצאת בעוד עשר דקות",
        "הספרייה סגורה בשבת",
    ),
}

_EMOJI = ("🙂", "🚀", "🔥", "👍🏽", "🎉", "🤖", "❤️", "🇩🇪", "👨‍👩‍👧‍👦", "🧪", "📈", "☕", "🌧️", "✅", "❌", "🐍")

_WORDS = (
    "oracle node vector model weight commit reveal quorum stake slash epoch block receipt nonce "
    "gas batch token layer cosine threshold honest cheat proof contract registry deposit reward "
    "river mountain library window coffee garden engine signal bridge harbour lantern orchard "
    "quietly quickly carefully rarely always never often suddenly slowly gently"
).split()


def _prose(rng: random.Random, n_words: int) -> str:
    words: list[str] = []
    while len(words) < n_words:
        length = rng.randint(6, 16)
        sentence = [rng.choice(_WORDS) for _ in range(length)]
        sentence[0] = sentence[0].capitalize()
        words.extend(sentence[:-1])
        words.append(sentence[-1] + rng.choice(".;,!?."))
    return " ".join(words[:n_words])


def _multilingual(rng: random.Random, count: int) -> list[Text]:
    langs = sorted(_LANGUAGES)
    out: list[Text] = []
    for i in range(count):
        lang = langs[i % len(langs)]
        base = list(_LANGUAGES[lang])
        rng.shuffle(base)
        parts = base[: rng.randint(1, 3)]
        text = ". ".join(parts)
        if rng.random() < 0.3:
            text += f" ({rng.randint(2, 9999)})"
        if rng.random() < 0.15:
            other = rng.choice(langs)
            text += " — " + rng.choice(_LANGUAGES[other])
        out.append(Text(f"lang-{lang}", text))
    return out


_CODE_TEMPLATES = (
    "def {f}({a}, {b}):\n    return {a} * {n} + {b}",
    "for (let {a} = 0; {a} < {n}; {a}++) {{ {f}({a}); }}",
    "SELECT {a}, COUNT(*) FROM {f} WHERE {b} > {n} GROUP BY {a};",
    'function {f}(uint256 {a}) external returns (bool) {{ require({a} > {n}, "{b}"); return true; }}',
    "fn {f}({a}: u64) -> u64 {{ {a}.wrapping_mul({n}) }}",
    'for f in *.{a}; do {f} "$f" > /tmp/{b}_{n}.log; done',
    '{{"{a}": {n}, "{b}": [1, 2, 3], "{f}": null}}',
    '<div class="{a}"><span id="{b}">{n}</span></div>',
    "#include <stdio.h>\nint {f}(int {a}) {{ return {a} << {n}; }}",
    'git commit -m "{f}: handle {a} when {b} exceeds {n}"',
)


def _code(rng: random.Random, count: int) -> list[Text]:
    out: list[Text] = []
    for i in range(count):
        template = _CODE_TEMPLATES[i % len(_CODE_TEMPLATES)]
        a, b, f = (rng.choice(_WORDS) for _ in range(3))
        out.append(Text("code", template.format(a=a, b=b, f=f + "_" + rng.choice(_WORDS), n=rng.randint(1, 4096))))
    return out


def _numbers(rng: random.Random, count: int) -> list[Text]:
    formats: tuple[Callable[[], str], ...] = (
        lambda: f"{rng.randint(1, 10**9):,}",
        lambda: f"{rng.uniform(-1e6, 1e6):.6f}",
        lambda: f"{rng.uniform(1e-12, 1e-3):.3e}",
        lambda: "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40)),
        lambda: (
            f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}Z"
        ),
        lambda: f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}",
        lambda: " ".join(str(rng.randint(0, 255)) for _ in range(rng.randint(4, 24))),
        lambda: f"Total: {rng.randint(1, 999)}.{rng.randint(0, 99):02d} EUR, tax {rng.randint(5, 25)}%",
        lambda: f"{rng.randint(1, 50)} {rng.choice(['kg', 'km/h', 'GiB', 'ms', '°C', 'ppm'])}",
        lambda: str(rng.randint(0, 9)),
    )
    return [Text("numbers", formats[i % len(formats)]()) for i in range(count)]


def _emoji(rng: random.Random, count: int) -> list[Text]:
    out: list[Text] = []
    for i in range(count):
        if i % 4 == 0:
            text = "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 12)))
        else:
            words = _prose(rng, rng.randint(3, 20)).split()
            for _ in range(rng.randint(1, 4)):
                words.insert(rng.randint(0, len(words)), rng.choice(_EMOJI))
            text = " ".join(words)
        out.append(Text("emoji", text))
    return out


_SHORT = (
    "",
    " ",
    "a",
    "?",
    "OK",
    "no",
    "🙂",
    "42",
    "Hi!",
    "yes.",
    "ß",
    "中",
    "Ж",
    "\t\n",
    "...",
    "NULL",
    "0x0",
    "über",
    "naïve café",
    "e\u0301",
    "A" * 40,
    "zzzzzzzzzz",
    "Hello, world",
    "TODO",
    "🤖🤖",
    "user@example.com",
    "https://example.com/a?b=c",
    "C'est la vie",
    "¿Qué?",
    "   padded   ",
)


def _short(count: int) -> list[Text]:
    return [Text("short", _SHORT[i % len(_SHORT)]) for i in range(count)]


def _long(rng: random.Random, count: int, min_words: int, max_words: int, category: str) -> list[Text]:
    out: list[Text] = []
    for i in range(count):
        text = _prose(rng, rng.randint(min_words, max_words))
        if i % 2 == 1:  # interleave another script so long texts are not English-only
            lang = sorted(_LANGUAGES)[i % len(_LANGUAGES)]
            text = " ".join(_LANGUAGES[lang]) + " " + text
        out.append(Text(category, text))
    return out


def build_corpus(seed: int = SEED) -> list[Text]:
    """About 500 texts, the same for every run with the same seed."""
    rng = random.Random(seed)
    return (
        _multilingual(rng, 300)
        + _code(rng, 60)
        + _numbers(rng, 50)
        + _emoji(rng, 40)
        + _short(30)
        + _long(rng, 15, 120, 400, "long")
        + _long(rng, 5, 700, 1400, "over-512-tokens")
    )


# --------------------------------------------------------------------------------------------------
# Measurements.


def read_threshold(calibration: Path) -> int:
    """The calibrated ``threshold_ppm`` recorded by ``make calibrate``."""
    data = json.loads(calibration.read_text(encoding="utf-8"))
    return int(data["threshold_ppm"])


def float_cosines(a: FloatMatrix, b: FloatMatrix) -> npt.NDArray[np.float64]:
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    dots = np.sum(a64 * b64, axis=1)
    cosines: npt.NDArray[np.float64] = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return cosines


def summary(values: list[float] | npt.NDArray[np.float64]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"min": float(arr.min()), "median": float(np.median(arr)), "max": float(arr.max())}


def compare(reference: FloatMatrix, other: FloatMatrix, corpus: list[Text], threshold_ppm: int) -> dict[str, Any]:
    """Float and contract-rule integer agreement between two embeddings of ``corpus``."""
    fcos = float_cosines(reference, other)
    icos: list[float] = []
    failing: list[dict[str, Any]] = []
    for i, (x, y) in enumerate(zip(reference, other, strict=True)):
        qx = vectors.unpack(vectors.quantize_packed(x))
        qy = vectors.unpack(vectors.quantize_packed(y))
        icos.append(vectors.cosine(qx, qy))
        if not vectors.agrees(qx, qy, threshold_ppm):
            failing.append({"index": i, "category": corpus[i].category, "int_cosine": icos[-1]})
    by_category: dict[str, float] = {}
    for i, item in enumerate(corpus):
        by_category[item.category] = min(by_category.get(item.category, 1.0), icos[i])
    worst = int(np.argmin(np.asarray(icos)))
    return {
        "pairs": len(corpus),
        "float_cosine": summary(fcos),
        "int_cosine": summary(icos),
        "int_cosine_min_by_category": dict(sorted(by_category.items())),
        "worst_pair": {"index": worst, "category": corpus[worst].category, "text_prefix": corpus[worst].text[:80]},
        "all_agree": not failing,
        "failing": failing[:20],
        "failing_count": len(failing),
    }


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def throughput(
    embedder: Embedder, texts: list[str], batch_size: int, repeats: int
) -> tuple[dict[str, Any], FloatMatrix]:
    """Sentences/s embedding ``texts`` at ``batch_size``, after one warm-up pass on a slice."""
    embedder.batch_size = batch_size
    embedder.embed(texts[: max(batch_size, 32)])  # warm-up: kernels, allocator, tokenizer
    _sync(embedder.device)
    rates: list[float] = []
    out: FloatMatrix | None = None
    for _ in range(repeats):
        start = time.perf_counter()
        out = embedder.embed(texts)
        _sync(embedder.device)
        rates.append(len(texts) / (time.perf_counter() - start))
    assert out is not None
    return {
        "batch_size": batch_size,
        "sentences_per_s": statistics.median(rates),
        "runs": [round(r, 1) for r in rates],
    }, out


def environment(cuda: bool) -> dict[str, Any]:
    import sentence_transformers
    import torch
    import transformers

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "torch_cpu_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
    }
    if cuda:
        env["cuda_device"] = torch.cuda.get_device_name(0)
        env["cuda_runtime"] = torch.version.cuda
        env["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    return env


def run(model_dir: Path, calibration: Path, cpu_only: bool, repeats: int) -> dict[str, Any]:
    import torch

    use_cuda = not cpu_only and torch.cuda.is_available()
    corpus = build_corpus()
    texts = [item.text for item in corpus]
    threshold_ppm = read_threshold(calibration)

    cpu = Embedder(model_dir, "cpu", CPU_BATCH_SIZE)
    cpu_speed, cpu_vectors = throughput(cpu, texts, CPU_BATCH_SIZE, repeats=1)
    report: dict[str, Any] = {
        "model_dir": str(model_dir),
        "weights_sha256": "0x" + weights_digest(model_dir).hex(),
        "dimension": cpu.dimension,
        "texts": len(texts),
        "texts_by_category": {
            c: sum(1 for t in corpus if t.category == c) for c in sorted({t.category for t in corpus})
        },
        "threshold_ppm": threshold_ppm,
        "threshold_source": str(
            calibration.relative_to(REPO_ROOT) if calibration.is_relative_to(REPO_ROOT) else calibration
        ),
        "environment": environment(use_cuda),
        "cpu": {"parameter_dtypes": cpu.compute_dtypes, "throughput": cpu_speed},
    }
    if not use_cuda:
        report["cuda"] = None
        report["note"] = "CUDA skipped (--cpu-only or no GPU visible): CPU batch 16 compared with CPU batch 64 instead"
        cpu.batch_size = 16
        report["cpu_batch_16_vs_batch_64"] = compare(cpu_vectors, cpu.embed(texts), corpus, threshold_ppm)
        return report

    gpu = Embedder(model_dir, "cuda", CPU_BATCH_SIZE)
    gpu_vectors = gpu.embed(texts)  # same batch size as the CPU reference, so the same padding
    speeds: list[dict[str, Any]] = []
    for batch_size in CUDA_BATCH_SIZES:
        speed, out = throughput(gpu, texts, batch_size, repeats)
        speed["min_float_cosine_vs_cpu"] = float(float_cosines(cpu_vectors, out).min())
        speeds.append(speed)
    report["cuda"] = {
        "parameter_dtypes": gpu.compute_dtypes,
        "vs_cpu_batch_64": compare(cpu_vectors, gpu_vectors, corpus, threshold_ppm),
        "throughput": speeds,
        "speedup_batch_64_vs_cpu": next(s["sentences_per_s"] for s in speeds if s["batch_size"] == CPU_BATCH_SIZE)
        / cpu_speed["sentences_per_s"],
    }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model-dir", type=Path, required=True, help="sentence-transformers model folder")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument(
        "--calibration", type=Path, default=DEFAULT_CALIBRATION, help="calibration JSON holding threshold_ppm"
    )
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when a GPU is visible")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per CUDA batch size (median reported)")
    args = parser.parse_args(argv)

    report = run(args.model_dir, args.calibration.resolve(), args.cpu_only, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
