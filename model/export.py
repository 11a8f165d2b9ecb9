"""Export a model: its ASR part as a plain Hugging Face directory, or the whole model in float16.

    python -m model.export --model DIR --out OUT_DIR [--as ctc|float16]

`--as ctc` (default): a `Wav2Vec2ForCTC` + `Wav2Vec2Processor` directory, which loads with
`transformers.pipeline("automatic-speech-recognition", model=OUT_DIR)` and outputs jamo;
`model.codec.jamo_to_text` turns that into syllables. `--as float16`: the same toolkit
directory (every head) with half-size weights, as the bundled models are shipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from model.codec import JamoCodec, build_processor
from model.network import MultiTaskWav2Vec2, resolve_model_dir


def export_ctc(model_dir, out_dir) -> Path:
    directory = resolve_model_dir(model_dir)
    model = MultiTaskWav2Vec2.from_pretrained(directory)
    if model.is_whisper:
        raise ValueError(f"{model_dir}: a whisper-encoder model has no Hugging Face CTC class to export to; "
                         "python -m model.predict and the app run it")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.asr.save_pretrained(str(out_dir))
    build_processor(JamoCodec.from_vocab_file(directory / "vocab.json"), out_dir)
    return out_dir


def export_float16(model_dir, out_dir) -> Path:
    directory = resolve_model_dir(model_dir)
    model = MultiTaskWav2Vec2.from_pretrained(directory)
    return model.save_pretrained(out_dir, JamoCodec.from_vocab_file(directory / "vocab.json"), dtype=torch.float16)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--as", dest="kind", choices=["ctc", "float16"], default="ctc")
    args = parser.parse_args(argv)
    print((export_float16 if args.kind == "float16" else export_ctc)(args.model, args.out))


if __name__ == "__main__":
    main()
