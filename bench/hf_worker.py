"""The Hugging Face side of the training bench, run in its own process by bench.training:
`transformers.Trainer` training `Wav2Vec2ForCTC` with a preset's encoder config on our data,
writing one progress line per optimizer step in the shape of our loop's metrics records.

    python -m bench.hf_worker SPEC.json   # SPEC written by bench.training.run_hf

A process of its own, as our contenders have: each starts cold, imports and allocates alike, and
the training bench measures its CPU time as a process tree.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from data_utils.audio import SAMPLE_RATE


class CTCCollator:
    """Our collator's padding (per-utterance normalisation, -100 label padding), minus the heads."""

    def __init__(self):
        from data_utils.batching import Collator

        self.collate = Collator(heads=())

    def __call__(self, examples):
        batch = self.collate(examples)
        return {k: batch[k] for k in ("input_values", "attention_mask", "labels")}


def hf_worker(spec_file: Path) -> None:
    """Runs in its own process: HF `Trainer` + `Wav2Vec2ForCTC` with the preset's encoder config."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments, Wav2Vec2ForCTC

    from data_utils.batching import DynamicBatchSampler, load_dataset
    from data_utils.labels import LabelSet
    from data_utils.manifest import read_manifest
    from distributed.config import PRESET_DEFAULTS
    from model.codec import JamoCodec
    from model.config import encoder_config

    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    defaults = PRESET_DEFAULTS[spec["preset"]]
    labels = LabelSet.fit(read_manifest(spec["manifest"]))
    dataset = load_dataset(spec["manifest"], labels, JamoCodec(), max_seconds=30.0)
    # Same audio per step on average: the mean utterance count of our length-grouped batches.
    sampler = DynamicBatchSampler(dataset.lengths, defaults["batch_seconds"], shuffle=False)
    batch_size = max(1, round(len(dataset) / len(sampler.all_batches())))
    # The length column in the format: group_by_length reads dataset["length"] instead of decoding.
    dataset = dataset.with_format("numpy", columns=["audio", "labels", "length"])
    codec = JamoCodec()
    model = Wav2Vec2ForCTC(encoder_config(spec["preset"], len(codec), codec.pad_id))

    pending: list[tuple[int, int]] = []  # (real samples, padded samples) of the step under way
    progress = open(spec["progress"], "w", encoding="utf-8")  # noqa: SIM115 (closed after training)
    clock = [0.0]

    class TimedTrainer(Trainer):
        def training_step(self, model, inputs, num_items_in_batch=None):
            mask = inputs["attention_mask"]
            pending.append((int(mask.sum()), mask.numel()))
            return super().training_step(model, inputs, num_items_in_batch)

    class Clock(TrainerCallback):
        """One progress line per optimizer step, in the same shape as our loop's metrics records."""

        def on_train_begin(self, *_, **__):
            clock[0] = time.perf_counter()

        def on_step_end(self, _args, state, *__, **___):
            now = time.perf_counter()
            real, padded = map(sum, zip(*pending)) if pending else (0, 0)
            pending.clear()
            progress.write(json.dumps({"step": state.global_step, "step_time_s": now - clock[0],
                                       "audio_s": real / SAMPLE_RATE, "padded_s": padded / SAMPLE_RATE}) + "\n")
            progress.flush()
            clock[0] = now

    training_args = TrainingArguments(
        output_dir=spec["output"], per_device_train_batch_size=batch_size, max_steps=spec["warmup"] + spec["steps"],
        learning_rate=defaults.get("lr_encoder", 1e-3), warmup_steps=defaults.get("warmup_steps", 0),
        max_grad_norm=5.0, train_sampling_strategy="group_by_length" if spec["contender"] == "hf-grouped" else "random",
        # Persistent workers, as our loop's: the timed epoch-long window crosses an epoch boundary.
        length_column_name="length", dataloader_num_workers=1, dataloader_persistent_workers=True,
        remove_unused_columns=False,
        logging_strategy="no", save_strategy="no", eval_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=spec["device"] == "cpu", bf16=spec["amp"] == "bf16", seed=0,
    )
    trainer = TimedTrainer(model=model, args=training_args, train_dataset=dataset, data_collator=CTCCollator(),
                           callbacks=[Clock()])
    trainer.train()
    progress.close()
    Path(spec["result"]).write_text(json.dumps({"batch_size": batch_size}), encoding="utf-8")


if __name__ == "__main__":
    hf_worker(Path(sys.argv[1]))
