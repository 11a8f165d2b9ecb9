"""The multi-task network: one encoder, a jamo CTC head and speaker-attribute heads.

    waveform -> Wav2Vec2ForCTC.wav2vec2 -> hidden states ─┬─> lm_head (CTC over jamo)
                                                          └─> layer weighting -> pooling -> shared
                                                              layer -> {age, gender, accent} heads

The encoder is a Wav2Vec2 one, or whisper-base's as whisper runs it (`model.whisper.WhisperForCTC`,
the reference of issue 19), as config.json's `model_type` says. Weights are stored with the ASR
part under its own key names and the rest under `multitask.`, so a Wav2Vec2 directory is also a
loadable `Wav2Vec2ForCTC` (extra keys are ignored).
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import Wav2Vec2ForCTC
from transformers.utils import ModelOutput
from transformers.utils import logging as hf_logging

from data_utils.labels import LABELS_NAME, LabelSet
from model.channels_last import use_channels_last_convs
from model.codec import JamoCodec, build_processor, read_vocab
from model.config import CONFIG_NAME, WEIGHTS_NAME, MultiTaskConfig, is_whisper, load_encoder_config
from model.heads import ClassificationHead, LayerWeighting, SharedLayer
from model.losses import TaskWeighting, classification_loss, ctc_loss
from model.pooling import build_pooling, frame_mask
from model.whisper import WhisperForCTC, encoder_frames
from model.whisper_init import INIT_RECORD

MULTITASK_PREFIX = "multitask."
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


@dataclass
class MultiTaskOutput(ModelOutput):
    loss: torch.Tensor | None = None
    ctc_logits: torch.Tensor | None = None  # (batch, frames, vocab)
    frame_lengths: torch.Tensor | None = None  # (batch,)
    head_logits: dict[str, torch.Tensor] | None = None  # head -> (batch, classes)
    losses: dict[str, float] | None = None  # detached per-task losses, for logging
    task_weights: dict[str, float] | None = None


class MultiTaskHeads(nn.Module):
    """Everything after the encoder except the CTC head."""

    def __init__(self, hidden_size: int, num_layers: int, config: MultiTaskConfig, labels: dict[str, list[str]]):
        super().__init__()
        # An ASR-only model (a Hub checkpoint without heads) has no pooling or shared layer either.
        self.layer_weighting = LayerWeighting(num_layers) if config.layer_weighting == "weighted" and config.heads else None
        self.pooling = build_pooling(config.pooling, hidden_size) if config.heads else None
        self.shared = SharedLayer(hidden_size, config.shared_dim, config.head_dropout) if config.heads else None
        self.heads = nn.ModuleDict({
            name: ClassificationHead(config.shared_dim, config.head_dim, len(labels[name]), config.head_dropout)
            for name in config.heads
        })
        self.task_weighting = TaskWeighting(["ctc", *config.heads], config.loss_weighting, config.task_weights,
                                            config.dwa_temperature, config.dwa_window)
        for name in config.heads:
            weights = (config.class_weights or {}).get(name)
            self.register_buffer(f"class_weights_{name}", torch.tensor(weights, dtype=torch.float32) if weights else None)

    def forward(self, hidden_states: tuple[torch.Tensor, ...], mask: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.heads:
            return {}
        hidden = self.layer_weighting(hidden_states) if self.layer_weighting is not None else hidden_states[-1]
        shared = self.shared(self.pooling(hidden, mask))
        return {name: head(shared) for name, head in self.heads.items()}


class MultiTaskWav2Vec2(nn.Module):
    def __init__(self, encoder_config, config: MultiTaskConfig, labels: dict[str, list[str]],
                 asr: Wav2Vec2ForCTC | WhisperForCTC | None = None):
        """`encoder_config`: a `Wav2Vec2Config`, or a `WhisperConfig` for the whisper encoder."""
        super().__init__()
        missing = [h for h in config.heads if not labels.get(h)]
        if missing:
            raise ValueError(f"heads {missing} have no classes in labels")
        self.config, self.labels = config, {h: list(labels[h]) for h in config.heads}
        if asr is None:
            asr = WhisperForCTC(encoder_config) if is_whisper(encoder_config) else Wav2Vec2ForCTC(encoder_config)
        self.asr = asr
        self.is_whisper = isinstance(asr, WhisperForCTC)
        if not self.is_whisper:
            use_channels_last_convs(self.asr.wav2vec2)
        encoder_config = self.asr.config
        self.multitask = MultiTaskHeads(encoder_config.hidden_size, encoder_config.num_hidden_layers + 1, config, self.labels)

    @property
    def encoder_config(self):
        return self.asr.config

    @property
    def encoder(self) -> nn.Module:
        return self.asr.whisper if self.is_whisper else self.asr.wav2vec2

    @property
    def needs_equal_lengths(self) -> bool:
        return needs_equal_lengths(self.encoder_config)

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Frames the encoder produces for each input length (the model's own conv formula)."""
        if self.is_whisper:
            return encoder_frames(sample_lengths).long()
        return self.asr.wav2vec2._get_feat_extract_output_lengths(sample_lengths).long()

    def encode(self, input_values: torch.Tensor, attention_mask: torch.Tensor,
               all_layers: bool) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
        """(the hidden states the heads read: every layer's, or the last alone; the last hidden
        state, which the CTC head reads; frame lengths). Transformers' Wav2Vec2 hidden states end
        with the last block's output before the final norm, so the last state is asked for apart."""
        sample_lengths = attention_mask.sum(-1)
        frame_lengths = self.frame_lengths(sample_lengths)
        if self.is_whisper:
            states = self.asr.encode(input_values, sample_lengths).hidden_states
            return (states if all_layers else states[-1:]), states[-1], frame_lengths
        encoded = self.asr.wav2vec2(input_values, attention_mask=attention_mask, output_hidden_states=all_layers)
        last = encoded.last_hidden_state
        return (encoded.hidden_states if all_layers else (last,)), last, frame_lengths

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, head_labels: dict[str, torch.Tensor] | None = None) -> MultiTaskOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_values, dtype=torch.long)
        hidden_states, last, frame_lengths = self.encode(input_values, attention_mask, self.multitask.layer_weighting is not None)
        ctc_logits = self.asr.lm_head(self.asr.dropout(last))
        head_logits = self.multitask(hidden_states, frame_mask(frame_lengths, last.shape[1]))

        output = MultiTaskOutput(ctc_logits=ctc_logits, frame_lengths=frame_lengths, head_logits=head_logits)
        if labels is not None or head_labels:
            losses = {}
            if labels is not None:
                losses["ctc"] = ctc_loss(ctc_logits, frame_lengths, labels, self.encoder_config.pad_token_id)
            for name, logits in head_logits.items():
                if head_labels and name in head_labels:
                    losses[name] = classification_loss(
                        logits, head_labels[name], getattr(self.multitask, f"class_weights_{name}"),
                        self.config.label_smoothing)
            output.loss, output.task_weights = self.multitask.task_weighting(losses)
            output.losses = {k: float(v.detach()) for k, v in losses.items() if v is not None}
        return output

    # --- options -----------------------------------------------------------------------------

    def freeze_feature_encoder(self) -> None:
        self.asr.freeze_feature_encoder()

    @property
    def blocks(self) -> nn.ModuleList:
        """The encoder's transformer blocks, lowest first."""
        return self.asr.whisper.encoder.layers if self.is_whisper else self.asr.wav2vec2.encoder.layers

    def encoder_depths(self) -> dict[str, int]:
        """Each encoder parameter's depth, by the module it belongs to: N + 1 the final norm (whisper's,
        and a pre-LN Wav2Vec2's; a post-LN one normalises before the blocks), 1..N a transformer
        block, 0 the front end (convolutions, positions, projection)."""
        encoder = self.asr.whisper.encoder if self.is_whisper else self.asr.wav2vec2.encoder
        final_norm = encoder.layer_norm if self.is_whisper or self.encoder_config.do_stable_layer_norm else None
        depth_of = {id(p): len(self.blocks) + 1 for p in (final_norm.parameters() if final_norm else ())}
        for index, block in enumerate(self.blocks, start=1):
            depth_of.update({id(p): index for p in block.parameters()})
        return {name: depth_of.get(id(p), 0) for name, p in self.encoder.named_parameters()}

    def freeze_lower_blocks(self, count: int) -> None:
        """Partial fine-tuning: the front end (and Wav2Vec2's projection and positional
        convolution) and the lowest `count` blocks keep their weights; no gradient flows below
        the first trained block, so a step costs less too."""
        if not 0 <= count <= len(self.blocks):
            raise ValueError(f"freeze_blocks must lie in 0..{len(self.blocks)} (the encoder's blocks), not {count}")
        self.freeze_feature_encoder()
        if not self.is_whisper:
            self.asr.wav2vec2.feature_projection.requires_grad_(False)
            self.asr.wav2vec2.encoder.pos_conv_embed.requires_grad_(False)
        for block in self.blocks[:count]:
            block.requires_grad_(False)

    def enable_gradient_checkpointing(self) -> None:
        self.asr.activation_checkpointing_enable()

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(encoder parameters, head parameters): the heads and CTC projection train faster."""
        encoder = [p for p in self.encoder.parameters() if p.requires_grad]
        heads = [p for p in [*self.asr.lm_head.parameters(), *self.multitask.parameters()] if p.requires_grad]
        return encoder, heads

    # --- save / load -------------------------------------------------------------------------

    def state_dict_for_saving(self) -> dict[str, torch.Tensor]:
        tensors = {k: v for k, v in self.asr.state_dict().items()}
        tensors.update({MULTITASK_PREFIX + k: v for k, v in self.multitask.state_dict().items()})
        return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def save_pretrained(self, directory, codec: JamoCodec | None = None, dtype: torch.dtype | None = None) -> Path:
        """`dtype=torch.float16` stores the floating-point weights at half the size (a model to
        ship); they load as float32 again."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder_config.save_pretrained(str(directory))
        self.config.save(directory)
        LabelSet(self.labels).save(directory)
        tensors = self.state_dict_for_saving()
        if dtype is not None:
            tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
        save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
        build_processor(codec or JamoCodec(), directory)
        return directory

    @classmethod
    def from_pretrained(cls, path_or_hub_id, map_location: str = "cpu") -> MultiTaskWav2Vec2:
        """Load a model directory (or a Hub repository with the same files). JSON and
        safetensors only: a directory that offers only pickled weights is refused."""
        directory = resolve_model_dir(path_or_hub_id)
        weights = require_safetensors(directory)
        if not (directory / CONFIG_NAME).is_file():
            return cls._asr_only(directory)
        model = cls(load_encoder_config(directory), MultiTaskConfig.load(directory), LabelSet.load(directory).classes)
        tensors = load_file(str(weights), device=map_location)
        asr_state = {k: v for k, v in tensors.items() if not k.startswith(MULTITASK_PREFIX)}
        multitask_state = {k[len(MULTITASK_PREFIX):]: v for k, v in tensors.items() if k.startswith(MULTITASK_PREFIX)}
        model.asr.load_state_dict(asr_state, strict=True)
        model.multitask.load_state_dict(multitask_state, strict=True)
        model.eval()
        return model

    @classmethod
    def _asr_only(cls, directory: Path) -> MultiTaskWav2Vec2:
        """A plain `Wav2Vec2ForCTC` directory (a Hub checkpoint): the CTC model with no heads.
        A directory that cannot transcribe (no CTC head, no vocabulary) is refused in one line."""
        if (directory / INIT_RECORD).is_file():
            raise ValueError(f"{directory}: cannot transcribe: an initialisation from whisper-base whose CTC head is "
                             "untrained; fine-tune it first (python -m distributed.train --pretrained DIR)")
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        architectures = config.get("architectures") or []
        if "Wav2Vec2ForCTC" not in architectures or not (directory / "vocab.json").is_file():
            missing = "a CTC head" if "Wav2Vec2ForCTC" not in architectures else "a vocab.json"
            kind = architectures[0] if architectures else "no architecture named"
            raise ValueError(f"{directory}: cannot transcribe: {kind} without {missing}; fine-tune it first "
                             "(python -m distributed.train --pretrained DIR)")
        with _without_load_report_table():
            asr = Wav2Vec2ForCTC.from_pretrained(str(directory), use_safetensors=True, dtype=torch.float32)
        model = cls(asr.config, MultiTaskConfig(heads=[]), {}, asr=asr)
        model.eval()
        return model

    @classmethod
    def from_encoder(cls, path_or_hub_id, config: MultiTaskConfig, labels: dict[str, list[str]],
                     codec: JamoCodec | None = None, **encoder_overrides) -> tuple[MultiTaskWav2Vec2, dict]:
        """Start from any pretrained Wav2Vec2 checkpoint (Model, ForPreTraining or ForCTC), or a
        `whisper` encoder directory (`model.whisper_init --as whisper`): the encoder weights load. The jamo CTC head and the classification heads start fresh, except
        from a model of this toolkit: there the CTC head carries over when its vocabulary is the
        codec's, and the pooling, shared layer and each head whose classes are the same as `labels`.
        Returns the model and a loading report (missing / unexpected / mismatched keys, and what
        carried over)."""
        codec = codec or JamoCodec()
        if Path(path_or_hub_id).is_dir():
            require_safetensors(Path(path_or_hub_id))
        source_config = load_encoder_config(path_or_hub_id, **encoder_overrides)
        if is_whisper(source_config):
            asr, info = whisper_from_pretrained(resolve_model_dir(path_or_hub_id), source_config, codec)
        else:
            asr, info = wav2vec2_from_pretrained(path_or_hub_id, codec, **encoder_overrides)
        report = {key: sorted(str(k) for k in info.get(key, [])) for key in ("missing_keys", "unexpected_keys", "mismatched_keys")}
        encoder_missing = [k for k in report["missing_keys"] if not k.startswith("lm_head")]
        if encoder_missing:
            report["warning"] = f"{len(encoder_missing)} encoder weights were not in the checkpoint and start random"
        model = cls(asr.config, config, labels, asr=asr)
        report.update(model._carry_over(str(path_or_hub_id), codec))
        if report.get("heads_loaded") is not None:  # a model of this toolkit: its extra keys were read
            report["unexpected_keys"] = [k for k in report["unexpected_keys"] if not k.startswith(MULTITASK_PREFIX)]
        return model, report

    def _carry_over(self, source: str, codec: JamoCodec) -> dict:
        """After `from_encoder`: keep the CTC head only if the source's vocabulary is the codec's
        (the same size alone says nothing of the order), and load the source's own multi-task
        weights where they mean the same thing here."""
        from transformers.utils import cached_file

        def source_file(name):
            return cached_file(source, name, _raise_exceptions_for_missing_entries=False)

        vocab = source_file("vocab.json")
        ctc_head_kept = vocab is not None and read_vocab(vocab) == codec.vocab
        if not ctc_head_kept:
            self.asr.lm_head.reset_parameters()
        report = {"ctc_head": "loaded" if ctc_head_kept else "fresh"}
        weights, labels = source_file(WEIGHTS_NAME), source_file(LABELS_NAME)
        if weights is None or labels is None:
            return report
        source_labels = LabelSet.load(Path(labels).parent).classes
        same_heads = {h for h in self.labels if source_labels.get(h) == self.labels[h]}
        target = self.multitask.state_dict()
        loaded = {}
        for name, value in load_file(weights).items():
            key = name.removeprefix(MULTITASK_PREFIX)
            if key == name or key.startswith(("task_weighting.", "class_weights_")):
                continue  # the encoder's, or state the new run computes itself
            head = key.split(".")[1] if key.startswith("heads.") else None
            if key in target and target[key].shape == value.shape and (head is None or head in same_heads):
                loaded[key] = value
        self.multitask.load_state_dict(loaded, strict=False)
        report["heads_loaded"] = sorted(h for h in same_heads if any(k.startswith(f"heads.{h}.") for k in loaded))
        report["heads_fresh"] = sorted(set(self.labels) - set(report["heads_loaded"]))
        report["shared_loaded"] = sorted({k.split(".")[0] for k in loaded if not k.startswith("heads.")})
        return report


def wav2vec2_from_pretrained(path_or_hub_id, codec: JamoCodec, **overrides) -> tuple[Wav2Vec2ForCTC, dict]:
    """A Wav2Vec2 checkpoint (Model, ForPreTraining or ForCTC) as a jamo `Wav2Vec2ForCTC`, with
    transformers' loading report."""
    with _without_load_report_table():  # use_safetensors=True: a Hub repository's pickles are refused too
        return Wav2Vec2ForCTC.from_pretrained(
            str(path_or_hub_id), vocab_size=len(codec), pad_token_id=codec.pad_id, ctc_loss_reduction="mean",
            ignore_mismatched_sizes=True, output_loading_info=True, use_safetensors=True, dtype=torch.float32,
            **overrides)  # float32 master weights whatever the checkpoint stores (fp16 on the Hub)


def whisper_from_pretrained(directory: Path, config, codec: JamoCodec) -> tuple[WhisperForCTC, dict]:
    """A `whisper` encoder directory (`model.whisper_init --as whisper`, or a model of this
    toolkit) with its `config` (overrides applied) as a jamo `WhisperForCTC`, float32 whatever it
    stores; a CTC head of another shape is left fresh."""
    config.vocab_size, config.pad_token_id = len(codec), codec.pad_id
    model = WhisperForCTC(config)
    target = model.state_dict()
    tensors = {k: v for k, v in load_file(str(require_safetensors(directory))).items() if not k.startswith(MULTITASK_PREFIX)}
    mismatched = [k for k, v in tensors.items() if k in target and target[k].shape != v.shape]
    state = {k: v.float() for k, v in tensors.items() if k in target and k not in mismatched}
    result = model.load_state_dict(state, strict=False)
    return model, {"missing_keys": result.missing_keys, "unexpected_keys": [k for k in tensors if k not in target],
                   "mismatched_keys": mismatched}


@contextmanager
def _without_load_report_table():
    """Transformers logs a table of every missing, unexpected and resized key as a warning. The
    report `from_encoder` returns says the same and what was carried over; the table alone would
    list a toolkit model's multi-task weights as unexpected although they were read. A filter
    drops that one record: raising the logger's level instead makes Transformers 5 run its
    tensor-parallel plan check, which warns about layers "not sharded" on every load."""
    logger = hf_logging.get_logger("transformers.modeling_utils")
    logger.addFilter(_not_load_report)
    try:
        yield
    finally:
        logger.removeFilter(_not_load_report)


def _not_load_report(record: logging.LogRecord) -> bool:
    return "LOAD REPORT" not in record.getMessage()


def needs_equal_lengths(encoder_config) -> bool:
    """Whether padding changes a clip's outputs: group norm (the wav2vec2-base family's first
    conv layer) normalises over all samples, padded zeros included (0.30 in CTC logits between a
    clip alone and padded in a batch), so such a model is batched by equal lengths only."""
    return getattr(encoder_config, "feat_extract_norm", None) == "group"  # whisper's has none


def require_safetensors(directory: Path) -> Path:
    """The directory's safetensors weights; a directory that offers only pickles is refused
    (unpickling runs code), with one message wherever a model is read."""
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        pickles = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES)
        reason = f"only pickle files ({', '.join(pickles)}), which are refused" if pickles else f"no {WEIGHTS_NAME}"
        raise ValueError(f"{directory}: not a model directory: {reason}")
    return weights


def resolve_model_dir(path_or_hub_id) -> Path:
    """A local directory as it is; otherwise download the repository's JSON/safetensors files."""
    path = Path(path_or_hub_id)
    if path.is_dir():
        return path
    if path.exists() or str(path_or_hub_id).startswith((".", "/")):
        raise FileNotFoundError(f"{path}: not a model directory")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(str(path_or_hub_id), allow_patterns=["*.json", "*.safetensors", "*.txt"]))
