"""Batch prediction: many files in, one result per file out, in input order.

    python -m model.predict --model DIR INPUT... [--out predictions.csv] [--batch-seconds S] [--precision fp32|int8|bf16]
                            [--threads T] [--parallel-batches P] [--format csv|json|srt|vtt] [--timestamps]

Files are loaded (a file that cannot be read becomes a row with an error), sorted by length,
grouped into batches of at most S seconds of padded audio and run under
`torch.inference_mode()`, P batches at a time. Recordings longer than `window_seconds` are cut into
utterances at pauses (`model.segments.utterance_cuts`), transcribed together and joined.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from data_utils.audio import AUDIO_SUFFIXES, DEFAULT_MAX_SECONDS, SAMPLE_RATE, AudioError, AudioTooLong, load_audio
from data_utils.batching import pad_waveforms
from data_utils.manifest import HEADS
from model.codec import JamoCodec
from model.config import frame_samples, max_input_seconds, receptive_field
from model.decoding import BeamDecoder, GreedyDecoder, Transcript
from model.network import MultiTaskWav2Vec2
from model.precision import bf16_autocast
from model.prediction import CSV_COLUMNS, Prediction, Timed, Word, head_prediction, join_pieces
from model.segments import batches_by_seconds, threads_per_batch, utterance_cuts

# fp32 is exact, so it is the default (bench/RESULTS.md): dynamic int8 quantisation of the Linear
# layers ran 0.97-1.25x on the 2-core AVX-512 machine and changed some transcripts slightly (CER
# 0.6-0.8 %); bf16 autocast pays off only where bf16 is native (model.precision).
PRECISIONS = ("fp32", "int8", "bf16")
# Files up to this long are loaded whole; longer ones (when the predictor's limit allows them)
# are streamed through ffmpeg window by window (model.stream).
IN_MEMORY_SECONDS = DEFAULT_MAX_SECONDS
CLI_MAX_SECONDS = 3 * 3600.0



class Predictor:
    """Loads a model once and predicts for arrays or files; safe to share between threads."""

    def __init__(self, model: MultiTaskWav2Vec2, codec: JamoCodec | None = None, device: str = "cpu",
                 batch_seconds: float = 20.0, window_seconds: float = 20.0, max_seconds: float = DEFAULT_MAX_SECONDS,
                 decoder: GreedyDecoder | BeamDecoder | None = None, precision: str = "fp32", parallel_batches: int = 1):
        """`parallel_batches`: batches run at once, each on its own thread, with torch's intra-op
        threads inside each; keep their product at the cores (`main` does). For small models on
        CPUs, one intra-op thread per batch and a batch per core is faster than every core on one
        batch: the demo model ran 1.2x faster on 2 cores, wav2vec2-base-sized ones the same
        (bench/RESULTS.md)."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if parallel_batches < 1:
            raise ValueError(f"parallel_batches must be at least 1, not {parallel_batches}")
        self.model = model.eval().to(device)
        self.precision = precision
        if precision == "int8":  # a quantised copy: the caller's model stays as it was
            with warnings.catch_warnings():
                # torch.ao's eager quantisation works in torch 2.13 but warns, at length, that its
                # successor is torchao (not a dependency of this toolkit).
                warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
                warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions")
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.codec = codec or JamoCodec()
        self.device = device
        # windows no longer than the encoder takes at once (whisper's 30 s)
        window_seconds = min(window_seconds, max_input_seconds(self.model.encoder_config) or window_seconds)
        self.batch_seconds, self.window_seconds, self.max_seconds = batch_seconds, window_seconds, max_seconds
        self.decoder = decoder or GreedyDecoder(self.codec)  # greedy unless given a beam decoder
        self.parallel_batches = parallel_batches
        self.show_progress = False  # a console progress bar for streamed recordings (the CLI sets it)
        self.min_samples = receptive_field(self.model.encoder_config)
        self.frame_seconds = frame_samples(self.model.encoder_config) / SAMPLE_RATE  # 20 ms

    @classmethod
    def from_pretrained(cls, path_or_hub_id, **options) -> Predictor:
        from model.network import resolve_model_dir

        directory = resolve_model_dir(path_or_hub_id)
        model = MultiTaskWav2Vec2.from_pretrained(directory)  # refuses a directory that cannot transcribe
        return cls(model, JamoCodec.from_vocab_file(directory / "vocab.json"), **options)

    @property
    def heads(self) -> list[str]:
        return list(self.model.config.heads)

    def autocast(self):
        """The context the model runs in: bf16 autocast for `precision="bf16"`, else nothing."""
        if self.precision == "bf16":
            return bf16_autocast(torch.device(self.device).type)
        return nullcontext()

    @torch.inference_mode()
    def run_model(self, chunks: list[np.ndarray]):
        """One padded batch through the model, at the predictor's precision: its raw output. A
        clip shorter than the receptive field (a 1 ms file) is padded up to it, as in training."""
        inputs, mask = pad_waveforms(chunks, self.min_samples)
        with self.autocast():
            return self.model(inputs.to(self.device), mask.to(self.device))

    def _run_batches(self, batches: list[list[np.ndarray]]) -> Iterator[tuple[list[Transcript], dict[str, np.ndarray]]]:
        """Each batch's transcripts and head probabilities, in order. The model runs on
        `parallel_batches` threads; decoding stays on this one (the beam decoder is not
        shared across threads), overlapping the next batches' forward passes."""
        if self.parallel_batches == 1 or len(batches) == 1:
            yield from map(self._decode, map(self.run_model, batches))
            return
        with ThreadPoolExecutor(self.parallel_batches, thread_name_prefix="predict") as pool:
            yield from map(self._decode, pool.map(self.run_model, batches))

    @torch.inference_mode()
    def _decode(self, output) -> tuple[list[Transcript], dict[str, np.ndarray]]:
        logits = output.ctc_logits.float()
        transcripts = self.decoder.decode(logits, output.frame_lengths, words=True)
        probabilities = {h: torch.softmax(v.float(), -1).cpu().numpy() for h, v in output.head_logits.items()}
        return transcripts, probabilities

    def predict_arrays(self, arrays: list[np.ndarray]) -> list[Prediction]:
        """16 kHz mono float32 arrays -> predictions (same order)."""
        chunks, owner, offsets = [], [], []
        for i, audio in enumerate(arrays):
            audio = np.asarray(audio, dtype=np.float32)
            window = int(self.window_seconds * SAMPLE_RATE)
            # a silent recording is read as its first window: an empty transcript, and head outputs
            cuts = [(0, len(audio))] if len(audio) <= window else utterance_cuts(audio, self.window_seconds) or [(0, window)]
            for start, end in cuts:
                chunks.append(audio[start:end])
                owner.append(i)
                offsets.append(start / SAMPLE_RATE)
        results: list[tuple[Transcript, dict[str, np.ndarray]] | None] = [None] * len(chunks)
        batches = batches_by_seconds([len(c) for c in chunks], self.batch_seconds, self.model.needs_equal_lengths)
        for batch, (transcripts, probabilities) in zip(batches, self._run_batches([[chunks[c] for c in b] for b in batches])):
            for j, c in enumerate(batch):
                results[c] = (transcripts[j], {h: p[j] for h, p in probabilities.items()})
        pieces: list[list[tuple[float, Prediction]]] = [[] for _ in arrays]
        for c, (transcript, probabilities) in enumerate(results):
            heads = {h: head_prediction(self.model.labels[h], p) for h, p in probabilities.items()}
            piece = Prediction(text=transcript.text, jamo=transcript.jamo, heads=heads, duration=len(chunks[c]) / SAMPLE_RATE,
                               words=[self._timed(w) for w in transcript.words])
            pieces[owner[c]].append((offsets[c], piece))
        return [join_pieces(parts, self.model.labels, len(audio) / SAMPLE_RATE) for parts, audio in zip(pieces, arrays)]

    def _timed(self, span) -> Word:
        """A word's frames as seconds into its chunk."""
        def seconds(frame: int) -> float:
            return round(frame * self.frame_seconds, 3)

        syllables = [Timed(s.text, seconds(s.start), seconds(s.end), s.confidence) for s in getattr(span, "syllables", [])]
        return Word(span.text, seconds(span.start), seconds(span.end), span.confidence, syllables)

    def predict_files(self, paths: Iterable, progress: Callable[[int], None] | None = None,
                      files_per_round: int = 64) -> list[Prediction]:
        """One prediction per path, in order; unreadable files get `error` instead of a result."""
        paths = [Path(p) for p in paths]
        out: list[Prediction] = []
        for start in range(0, len(paths), files_per_round):
            group = paths[start : start + files_per_round]
            arrays, loaded_slots = [], []
            group_out = [Prediction(path=str(path)) for path in group]
            for slot, path in enumerate(group):
                try:
                    arrays.append(load_audio(path, max_seconds=min(self.max_seconds, IN_MEMORY_SECONDS)))
                    loaded_slots.append(slot)
                except AudioTooLong as error:
                    if self.max_seconds <= IN_MEMORY_SECONDS:
                        group_out[slot].error = error.reason
                    else:  # an hour-long lecture: streamed, a few windows in memory at a time
                        group_out[slot] = self._predict_long(path)
                except AudioError as error:
                    group_out[slot].error = error.reason
            for slot, prediction in zip(loaded_slots, self.predict_arrays(arrays) if arrays else []):
                prediction.path = group_out[slot].path
                group_out[slot] = prediction
            out.extend(group_out)
            if progress:
                progress(len(group))
        return out


    def _predict_long(self, path: Path) -> Prediction:
        from tqdm import tqdm

        from model.stream import transcribe_long

        with tqdm(desc=path.name, unit="audio s", file=sys.stderr, leave=False, disable=not self.show_progress) as bar:
            def advance(seconds: float) -> None:
                bar.update(seconds - bar.n)

            try:
                return transcribe_long(self, path, self.max_seconds, progress=advance)
            except AudioError as error:
                return Prediction(path=str(path), error=error.reason)


def expand_inputs(inputs: Iterable) -> list[Path]:
    """Files as given; folders searched recursively for audio files (sorted)."""
    out = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES))
        else:
            out.append(path)
    return out


def write_predictions(predictions: list[Prediction], out, output_format: str = "csv", timestamps: bool = False) -> None:
    """CSV (one row per file) or JSON Lines (one object per file, each head's distribution, and
    with `timestamps` every word's and syllable's times and confidence) to a file or "-"."""
    handle = open(out, "w", newline="", encoding="utf-8") if out != "-" else sys.stdout
    try:
        if output_format == "json":
            for p in predictions:
                record = {**p.row(), "heads": {h: v.distribution for h, v in p.heads.items()}}
                if timestamps:
                    record["words"] = [dataclasses.asdict(w) for w in p.words]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            extra = sorted({h for p in predictions for h in p.heads if h not in HEADS})
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS + [c for h in extra for c in (h, f"{h}_prob")])
            writer.writeheader()
            writer.writerows(p.row() for p in predictions)
    finally:
        if handle is not sys.stdout:
            handle.close()


def write_subtitles(predictions: list[Prediction], output_format: str, out: str | None) -> list[Path]:
    """One subtitle file per input (`out/<input name>.srt`); with no `out`, the single input's
    subtitles on standard output. Files that failed get none (their error is reported)."""
    from model.subtitles import SUBTITLE_FORMATS, make_cues

    render = SUBTITLE_FORMATS[output_format]
    if out is None or out == "-":
        if len(predictions) != 1:
            raise SystemExit(f"error: --format {output_format} with {len(predictions)} inputs needs --out DIR")
        sys.stdout.write(render(make_cues(predictions[0].words)))
        return []
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for p in predictions:
        if not p.error:
            target = folder / f"{Path(p.path).stem}.{output_format}"
            target.write_text(render(make_cues(p.words)), encoding="utf-8")
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description="Transcribe files and predict age, gender and accent.")
    parser.add_argument("--model", required=True, help="model directory or Hub id")
    parser.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    parser.add_argument("--out", default=None, help="file to write (csv, json; default: stdout), or the folder "
                        "for srt/vtt files (default with one input: stdout)")
    parser.add_argument("--format", choices=["csv", "json", "srt", "vtt"], default="csv", dest="output_format",
                        help="csv (one row per file), json (JSON Lines), or subtitles per input file")
    parser.add_argument("--timestamps", action="store_true", help="json: add each word's and syllable's times")
    # Small batches stay in cache: 20 s ran 1.4x faster than 60 s on 2 cores (bench/RESULTS.md).
    parser.add_argument("--batch-seconds", type=float, default=20.0, help="padded audio seconds per batch")
    parser.add_argument("--beam-width", type=int, default=0, help="beam search (pyctcdecode) instead of greedy")
    parser.add_argument("--lm", help="KenLM model over jamo words for beam search")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp32 (exact; the default), int8 (dynamic quantisation of the Linear layers; transcripts may "
                             "differ slightly) or bf16 (autocast: for GPUs and CPUs with native bf16)")
    parser.add_argument("--max-seconds", type=float, default=CLI_MAX_SECONDS,
                        help="longest recording to transcribe (default 3 h; over 10 min they are streamed)")
    parser.add_argument("--threads", type=int, default=None, help="threads in all (default: one per core)")
    parser.add_argument("--parallel-batches", type=int, default=None,
                        help="batches run at once, sharing the threads (default: one per thread, each batch single-threaded)")
    args = parser.parse_args(argv)

    from model.allocator import fix_mmap_threshold

    fix_mmap_threshold()  # an hour of windows must not creep the heap up batch after batch
    threads = args.threads or torch.get_num_threads()
    parallel_batches = args.parallel_batches or threads
    torch.set_num_threads(threads_per_batch(threads, parallel_batches))
    try:
        predictor = Predictor.from_pretrained(args.model, batch_seconds=args.batch_seconds, precision=args.precision,
                                              parallel_batches=parallel_batches, max_seconds=args.max_seconds)
        predictor.show_progress = True
    except (ValueError, FileNotFoundError) as error:  # a model that cannot be used: one line, no traceback
        raise SystemExit(f"error: {error}") from None
    if args.beam_width or args.lm:
        predictor.decoder = BeamDecoder(predictor.codec, args.lm, beam_width=args.beam_width or 32)
    paths = expand_inputs(args.inputs)
    if not paths:
        parser.error("no audio files found in the inputs")
    with tqdm(total=len(paths), unit="file", file=sys.stderr) as bar:
        predictions = predictor.predict_files(paths, progress=bar.update)
    if args.output_format in ("srt", "vtt"):
        written = write_subtitles(predictions, args.output_format, args.out)
        if written:
            print(f"wrote {len(written)} {args.output_format} files to {args.out}", file=sys.stderr)
    else:
        write_predictions(predictions, args.out or "-", args.output_format, args.timestamps)
    failed = [p for p in predictions if p.error]
    print(f"{len(predictions)} files, {len(failed)} failed", file=sys.stderr)
    for p in failed:
        print(f"  {p.path}: {p.error}", file=sys.stderr)


if __name__ == "__main__":
    main()
