"""Export a model: its ASR part as a plain Hugging Face directory, or the whole model in float16.

    python -m model.export --model DIR --out OUT_DIR [--as ctc|float16] [--lm LM.arpa]
        [--evaluation REPORT_DIR ...] [--license cc-by-nc-sa-4.0]

`--as ctc` (default): a `Wav2Vec2ForCTC` + processor directory for
`transformers.pipeline("automatic-speech-recognition", model=OUT_DIR, trust_remote_code=True)`,
which returns Korean syllables: the directory ships `tokenization_korean_jamo.py`, a
`Wav2Vec2CTCTokenizer` that composes the model's jamo (the remote code is those 50 lines;
without `trust_remote_code` the output is conjoining jamo, which renders as syllables and which
`unicodedata.normalize("NFC", ...)` composes). A syllable vocabulary cannot be had: the CTC
head spells jamo. `--lm` bundles the n-gram LM as a `Wav2Vec2ProcessorWithLM` (the pipeline
then decodes with pyctcdecode + KenLM; that path bypasses the tokenizer, so its text is
conjoining jamo: NFC composes it). A `README.md` model card with the Hub's metadata header
carries the figures of each `distributed.evaluate` report given with `--evaluation`.
`--as float16`: the same toolkit directory (every head) with half-size weights, as the bundled
models are shipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
import yaml

from model import tokenization_korean_jamo
from model.codec import JamoCodec, build_processor
from model.network import MultiTaskWav2Vec2, resolve_model_dir

TOKENIZER_CLASS = f"{Path(tokenization_korean_jamo.__file__).stem}.{tokenization_korean_jamo.KoreanJamoCTCTokenizer.__name__}"
CARD_METRICS = {"cer_nospace": "CER (spaces removed)", "swer": "space-normalised WER", "wer": "WER"}


def export_ctc(model_dir, out_dir, lm=None, evaluations=(), license_id: str = "other") -> Path:
    directory = resolve_model_dir(model_dir)
    model = MultiTaskWav2Vec2.from_pretrained(directory)
    if model.is_whisper:
        raise ValueError(f"{model_dir}: a whisper-encoder model has no Hugging Face CTC class to export to; "
                         "python -m model.predict and the app run it")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.asr.save_pretrained(str(out_dir))
    codec = JamoCodec.from_vocab_file(directory / "vocab.json")
    processor = build_processor(codec, out_dir)
    if lm is not None:
        bundle_lm(processor, codec, lm, out_dir)
    shutil.copyfile(tokenization_korean_jamo.__file__, out_dir / Path(tokenization_korean_jamo.__file__).name)
    tokenizer_config = out_dir / "tokenizer_config.json"
    settings = json.loads(tokenizer_config.read_text(encoding="utf-8"))
    settings["auto_map"] = {"AutoTokenizer": [TOKENIZER_CLASS, None]}
    tokenizer_config.write_text(json.dumps(settings, indent=2, ensure_ascii=False), encoding="utf-8")
    write_model_card(out_dir, model_dir, [Path(e) for e in evaluations], license_id, lm is not None)
    return out_dir


def bundle_lm(processor, codec: JamoCodec, lm, out_dir: Path) -> None:
    """The processor becomes a `Wav2Vec2ProcessorWithLM` whose decoder is the toolkit's beam decoder."""
    from transformers import Wav2Vec2ProcessorWithLM

    from model.decoding import BeamDecoder

    decoder = BeamDecoder(codec, lm).decoder
    Wav2Vec2ProcessorWithLM(feature_extractor=processor.feature_extractor, tokenizer=processor.tokenizer,
                            decoder=decoder).save_pretrained(str(out_dir))
    # transformers 5's pipeline looks for the processor class inside the feature extractor's own
    # settings, which its save nests without it: without this line the LM is never loaded.
    config_file = out_dir / "processor_config.json"
    settings = json.loads(config_file.read_text(encoding="utf-8"))
    settings["feature_extractor"]["processor_class"] = settings["processor_class"]
    config_file.write_text(json.dumps(settings, indent=2), encoding="utf-8")


def write_model_card(out_dir: Path, source, evaluations: list[Path], license_id: str, with_lm: bool) -> Path:
    results, rows = [], []
    for report in evaluations:
        summary = json.loads((report / "summary.json" if report.is_dir() else report).read_text(encoding="utf-8"))
        name = report.stem if report.is_file() else report.name
        metrics = [{"type": key, "name": label, "value": round(summary[key], 4)}
                   for key, label in CARD_METRICS.items() if key in summary]
        results.append({"task": {"type": "automatic-speech-recognition"}, "dataset": {"name": name, "type": name},
                        "metrics": metrics})
        rows.append(f"| {name} | {summary.get('n', '')} | " + " | ".join(f"{m['value']:.3f}" for m in metrics) + " |")
    header = {"language": ["ko"], "license": license_id, "library_name": "transformers",
              "pipeline_tag": "automatic-speech-recognition", "tags": ["ctc", "jamo", "korean"],
              "model-index": [{"name": Path(out_dir).name, "results": results}]}
    table = ("| set | clips | " + " | ".join(CARD_METRICS.values()) + " |\n|---|---|" + "---|" * len(CARD_METRICS) + "\n"
             + "\n".join(rows)) if rows else "No evaluation was given to the export (`--evaluation REPORT_DIR`)."
    lm_note = ("It bundles an n-gram LM over jamo words: the pipeline decodes with pyctcdecode + KenLM, and that "
               "path returns conjoining jamo (`unicodedata.normalize(\"NFC\", text)` composes it).\n\n") if with_lm else ""
    body = f"""# {Path(out_dir).name}: Korean speech recognition (CTC over jamo)

Exported by the Korean speech toolkit (`python -m model.export`) from `{Path(str(source)).name}`: the
transcription part only (the toolkit's age, gender and accent heads stay in the toolkit's own format).

```python
from transformers import pipeline
asr = pipeline("automatic-speech-recognition", model="{Path(out_dir).name}", trust_remote_code=True)
asr("speech.wav")["text"]   # 16 kHz mono; composed Hangul syllables
```

`trust_remote_code` loads `tokenization_korean_jamo.py` (shipped here, standard library + transformers
only), which composes the model's jamo into syllables; without it the text is conjoining jamo.
{lm_note}## Figures

Measured by the toolkit's `distributed.evaluate` (greedy decoding; CER with spaces removed, as
Korean results are quoted):

{table}

## Intended use and limits

Korean read speech at 16 kHz. Numbers and Latin letters are transcribed as spoken Hangul (the
training text spells them out). Check the training data of the source model for its licence
terms before any use; the figures hold only for sets like those above.
"""
    path = out_dir / "README.md"
    path.write_text("---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=False) + "---\n\n" + body,
                    encoding="utf-8")
    return path


def export_float16(model_dir, out_dir) -> Path:
    directory = resolve_model_dir(model_dir)
    model = MultiTaskWav2Vec2.from_pretrained(directory)
    return model.save_pretrained(out_dir, JamoCodec.from_vocab_file(directory / "vocab.json"), dtype=torch.float16)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--as", dest="kind", choices=["ctc", "float16"], default="ctc")
    parser.add_argument("--lm", help="ctc: bundle this ARPA/KenLM n-gram over jamo words (python -m model.lm)")
    parser.add_argument("--evaluation", nargs="+", default=[], help="ctc: distributed.evaluate report folders for the card")
    parser.add_argument("--license", default="other", help="ctc: the card's licence id (the training data's terms)")
    args = parser.parse_args(argv)
    if args.kind == "float16":
        print(export_float16(args.model, args.out))
    else:
        print(export_ctc(args.model, args.out, args.lm, args.evaluation, args.license))


if __name__ == "__main__":
    main()
