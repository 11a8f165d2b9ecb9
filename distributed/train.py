"""Train the multi-task model with Ray Train.

    python -m distributed.train --train train.csv --valid valid.csv --output RUN_DIR \\
        [--preset tiny|demo|base|whisper|whisper-encoder] [--config FILE] [--pretrained PATH_OR_HUB_ID] [--num-workers N] \\
        [--use-gpu] [--amp bf16|fp16|no] [--max-steps N | --epochs N] [--time-budget-min M] [--target-cer C] [--address ADDR]

Running the same command again resumes from the latest checkpoint in RUN_DIR. Without an
address Ray starts a local cluster; `--address` (or RAY_ADDRESS) joins an existing one, and
RUN_DIR must then be storage every node can reach. `--no-ray` runs the same per-worker loop
in this process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from distributed.config import AMP_MODES, PRESET_DEFAULTS, TrainConfig


def build_config(args: argparse.Namespace) -> TrainConfig:
    """Preset defaults < config file < command-line flags."""
    values = dict(PRESET_DEFAULTS.get(args.preset, {}))
    if args.config:
        values.update(json.loads(Path(args.config).read_text(encoding="utf-8")))
    flags = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(TrainConfig)} and v is not None}
    values.update(flags)
    return TrainConfig.from_dict(values)


def run_labels(config: TrainConfig):
    """The run's label classes and where they came from. A resumed run keeps its own; a new one
    takes those `data_utils.prepare` wrote beside the training manifest (DIR/train.csv ->
    DIR/labels.json), so the classes the corpus report showed are the model's; else it fits
    them on the training manifest."""
    from data_utils.labels import LabelSet
    from data_utils.manifest import read_manifest

    for folder, origin in [(config.output, "this run's, resumed"), (Path(config.train).parent, "prepared beside --train")]:
        if LabelSet.path(folder).exists():
            return LabelSet.load(folder), f"{LabelSet.path(folder)} ({origin})"
    return LabelSet.fit(read_manifest(config.train)), f"fitted on {config.train}"


def prepare_run(config: TrainConfig) -> None:
    """Driver-side work done once: label classes, decoded-audio caches, the saved config."""
    from data_utils.audio import SAMPLE_RATE
    from data_utils.batching import load_dataset
    from model.codec import JamoCodec

    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    labels, origin = run_labels(config)
    labels.save(output)
    heads = ", ".join(f"{h} ({', '.join(c)})" for h, c in labels.classes.items()) or "none"
    print(f"labels: {heads}; from {origin}", file=sys.stderr)
    for manifest in filter(None, [config.train, config.valid]):
        dataset = load_dataset(manifest, labels, JamoCodec(), num_proc=config.decode_num_proc, **config.utterance_limits())
        for item in dataset.skipped:
            print(f"{manifest}: skipped {item['path']}: {item['reason']}", file=sys.stderr)
        print(f"{manifest}: {len(dataset)} utterances, {dataset.lengths.sum() / SAMPLE_RATE / 3600:.2f} h", file=sys.stderr)
    config.save(output)


def quiet_placement_group_cleaner() -> None:
    """Runs at the start of every Ray worker process of a run. Without Ray's dashboard
    (`ray[default]`, not a dependency) there is no state API, and Train V2's placement-group
    cleaner then logs the same warning every 2 s of a run; its errors still show."""
    import logging

    logging.getLogger("ray.train.v2._internal.execution.controller.placement_group_cleaner").setLevel(logging.ERROR)


def run_with_ray(config: TrainConfig, address: str | None):
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from distributed.faults import forwarded_env
    from distributed.loop import train_func

    project_root = str(Path(__file__).resolve().parents[1])
    # Ray starts its workers at nice 15, below its own processes, each of which wakes every
    # 10 ms. A training worker's OpenMP threads, preempted at every such wake-up, stall each
    # other at barriers: on 2 cores the demo preset's median step was 1.31x our loop's without
    # Ray at nice 15 and 1.09x at nice 0 (3 alternating runs each). So workers run at the
    # driver's priority (0 unless RAY_worker_niceness says otherwise).
    # Train V2 also turns each print() of a worker into a log record, which the driver's console
    # then shows a second time beside Ray's own copy of the worker's stderr: one copy is enough.
    env_vars = {"PYTHONPATH": project_root, "TOKENIZERS_PARALLELISM": "false",
                "RAY_worker_niceness": os.environ.get("RAY_worker_niceness", "0"),
                "RAY_TRAIN_ENABLE_PRINT_PATCH": os.environ.get("RAY_TRAIN_ENABLE_PRINT_PATCH", "0"),
                **forwarded_env()}  # a test's fault injection (distributed.faults), when it asks for one
    address = address or os.environ.get("RAY_ADDRESS")
    system_config = {}
    if address is None:
        # A local cluster: each helper process is one more 10 ms wake-up beside the worker. Its
        # machine cannot be preempted like a cloud node, so Train V2's preemption watcher has
        # nothing to watch, and the idle worker Ray starts ahead for tasks would never get one.
        # Without the two, a demo-preset Ray run trained at 28.0 audio s/s against 26.0 with them
        # (mean of 4 alternating runs each, 16 steps per run).
        env_vars["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] = os.environ.get("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
        system_config.update(enable_worker_prestart=False, prestart_worker_first_driver=False)
    runtime_env = {"env_vars": env_vars, "worker_process_setup_hook": "distributed.train.quiet_placement_group_cleaner"}
    ray.init(address=address, ignore_reinit_error=True, runtime_env=runtime_env, _system_config=system_config or None)
    resources = {"CPU": config.cpus_per_worker, **({"GPU": 1} if config.use_gpu else {})}
    trainer = TorchTrainer(
        train_func,
        train_loop_config=dataclasses.asdict(config),
        scaling_config=ScalingConfig(num_workers=config.num_workers, use_gpu=config.use_gpu, resources_per_worker=resources),
        run_config=RunConfig(
            name="ray",  # a fixed name: running the same command again resumes
            storage_path=str(Path(config.output).resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=config.keep_checkpoints, checkpoint_score_attribute="step",
                                               checkpoint_score_order="max"),
            failure_config=FailureConfig(max_failures=3),
        ),
    )
    return trainer.fit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--valid")
    parser.add_argument("--output", required=True)
    parser.add_argument("--preset", choices=list(PRESET_DEFAULTS), default="demo")
    parser.add_argument("--config", help="JSON file of TrainConfig fields")
    parser.add_argument("--pretrained", help="Wav2Vec2 checkpoint (directory or Hub id) for the encoder")
    parser.add_argument("--num-workers", type=int)
    parser.add_argument("--use-gpu", action="store_true", default=None)
    parser.add_argument("--amp", choices=AMP_MODES)
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--max-steps", type=int)
    stop.add_argument("--epochs", type=float)
    parser.add_argument("--time-budget-min", type=float, help="stop after this much training time (with either of the above, whichever comes first)")
    parser.add_argument("--target-cer", type=float, help="also stop at the first evaluation whose validation CER is at most this")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--augment", type=float, metavar="SHARE",
                        help="share of training clips heard degraded: speed, room, telephone band, noise (data_utils.augment)")
    parser.add_argument("--freeze-blocks", type=int, metavar="N",
                        help="partial fine-tuning: the front end and the lowest N transformer blocks stay as they start")
    parser.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local cluster)")
    parser.add_argument("--no-ray", action="store_true", help="run the per-worker loop in this process")
    args = parser.parse_args(argv)

    config = build_config(args)
    if "://" in config.output:
        # What rank 0 and the driver write (labels, metrics.jsonl, best/, curves, checkpoints
        # staged before Ray uploads them) goes through the local file system; an object-store
        # URI would become a folder named `s3:` here. Refused, not half supported.
        parser.error(f"--output {config.output}: a URI is not supported; use a folder every node mounts "
                     "(NFS, EFS, FSx, a GCS/S3 FUSE mount) and pass its path")
    config.train, config.valid = str(Path(config.train).resolve()), str(Path(config.valid).resolve()) if config.valid else ""
    config.output = str(Path(config.output).resolve())
    if config.amp == "fp16" and not config.use_gpu:
        print("note: fp16 autocast on a CPU runs, but slowly; it is meant for GPUs (bf16 on CPUs that have it)",
              file=sys.stderr)
    prepare_run(config)
    if args.no_ray:
        from distributed.loop import train_func

        train_func(dataclasses.asdict(config))
    else:
        result = run_with_ray(config, args.address)
        if result.error:
            raise SystemExit(f"training failed: {result.error}")
    print(f"done: {config.output} (best model: {Path(config.output) / 'best'})", file=sys.stderr)


if __name__ == "__main__":
    main()
