"""Export the ASR part as a plain Hugging Face `Wav2Vec2ForCTC` + `Wav2Vec2Processor` directory.

    python -m model.export --model DIR --out OUT_DIR

The result loads with `transformers.pipeline("automatic-speech-recognition", model=OUT_DIR)`
and outputs jamo; `model.codec.jamo_to_text` turns that into syllables.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(export_ctc(args.model, args.out))


if __name__ == "__main__":
    main()
