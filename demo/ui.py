"""The page: four tabs laid out with Gradio Blocks and wired to the tab logic.

Layout only: what each button does lives in transcribe.py, batch.py, compare.py, training.py.
Every event that runs a model shares one concurrency group, so the number of predictions
running at once is capped however the requests arrive (page or API).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from demo.batch import BatchAnalyzer
from demo.compare import Comparer
from demo.limits import Limits
from demo.live import CHUNK_SECONDS, LiveSession
from demo.model_store import ModelStore
from demo.training import TrainingViewer
from demo.transcribe import Transcriber, show_words

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MODEL_GROUP = "model"


def example_clips() -> list[str]:
    return [str(p) for p in sorted(EXAMPLES_DIR.glob("*.wav"))]


def example_labels(clips: list[str]) -> list[str]:
    """'sentence · gender, age, accent' from references.csv: what each example should give."""
    references = EXAMPLES_DIR / "references.csv"
    if not references.is_file():
        return [Path(clip).name for clip in clips]
    rows = pd.read_csv(references, dtype=str, keep_default_na=False).set_index("path")
    return [f"{rows.loc[name, 'text']} · {rows.loc[name, 'gender']}, {rows.loc[name, 'age']}, {rows.loc[name, 'accent']}"
            if name in rows.index else name for name in (Path(clip).name for clip in clips)]


def build_app(store: ModelStore, limits: Limits, runs_root: Path, i18n: gr.I18n, model_concurrency: int = 2) -> gr.Blocks:
    """The whole page; launch it with the same `i18n` (`launch(i18n=i18n)`)."""
    run_model = {"concurrency_id": MODEL_GROUP, "concurrency_limit": model_concurrency}
    with gr.Blocks(title="Korean speech toolkit", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(i18n("title"))
        gr.Markdown(i18n("intro"))
        if store.main.model.is_whisper:  # the model says which architecture it is (issue 19)
            gr.Markdown(i18n("whisper_encoder"), elem_id="architecture")
        with gr.Tabs():
            with gr.Tab(i18n("tab_transcribe"), id="transcribe"):
                _transcribe_tab(Transcriber(store), LiveSession(store, limits), i18n, run_model)
            with gr.Tab(i18n("tab_batch"), id="batch"):
                _batch_tab(BatchAnalyzer(store, limits), i18n, run_model)
            with gr.Tab(i18n("tab_compare"), id="compare"):
                _compare_tab(Comparer(store, limits), store.names, i18n, run_model)
            with gr.Tab(i18n("tab_training"), id="training"):
                _training_tab(TrainingViewer(runs_root), i18n, app)
    return app


def _transcribe_tab(transcriber: Transcriber, live: LiveSession, i18n: gr.I18n, run_model: dict) -> None:
    with gr.Row():
        with gr.Column():
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label=i18n("audio_input"),
                             elem_id="transcribe-audio")
            button = gr.Button(i18n("transcribe_button"), variant="primary", elem_id="transcribe-button")
            gr.Markdown(i18n("transcribe_help"))
            clips = example_clips()
            if clips:
                gr.Examples(examples=[[clip] for clip in clips], inputs=[audio], label=i18n("examples"),
                            example_labels=example_labels(clips))
            _live_section(live, i18n, run_model)
        with gr.Column():
            text = gr.Textbox(label=i18n("transcript"), lines=2, buttons=["copy"], elem_id="transcript")
            jamo = gr.Textbox(label=i18n("jamo"), lines=2, elem_id="jamo")
            if not transcriber.heads:
                gr.Markdown(i18n("asr_only"), elem_id="asr-only")
            with gr.Row():
                labels = [gr.Label(label=i18n(f"head_{head}"), num_top_classes=5, elem_id=f"label-{head}")
                          for head in transcriber.heads]
            with gr.Row():
                duration = gr.Number(value=None, label=i18n("duration_s"), elem_id="duration")
                elapsed = gr.Number(value=None, label=i18n("processing_s"), elem_id="elapsed")
            words = gr.HighlightedText(label=i18n("words"), color_map={"low": "orange"}, show_legend=False,
                                       combine_adjacent=False, elem_id="words")
            subtitles = gr.File(label=i18n("download_srt"), interactive=False, elem_id="srt")
    timed = gr.State()
    button.click(transcriber.transcribe, inputs=[audio], outputs=[text, jamo, *labels, duration, elapsed, timed],
                 api_name="transcribe", **run_model).then(show_words, inputs=[timed], outputs=[words, subtitles],
                                                          api_visibility="private")


def _live_section(session: LiveSession, i18n: gr.I18n, run_model: dict) -> None:
    """The microphone's live mode, under the examples: its transcript grows beside nothing else."""
    microphone = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label=i18n("live_audio"),
                          elem_id="live-audio")
    text = gr.Textbox(label=i18n("live_transcript"), lines=3, buttons=["copy"], elem_id="live-transcript")
    gr.Markdown(i18n("live_help"))
    live = gr.State()
    microphone.start_recording(session.start, outputs=[text, live], api_visibility="private")
    microphone.stream(session.feed, inputs=[microphone, live], outputs=[text, live], stream_every=CHUNK_SECONDS,
                      api_visibility="private", **run_model)
    microphone.stop_recording(session.stop, inputs=[live], outputs=[text, live], api_visibility="private", **run_model)


def _batch_tab(analyzer: BatchAnalyzer, i18n: gr.I18n, run_model: dict) -> None:
    with gr.Row():
        files = gr.File(file_count="multiple", label=i18n("batch_files"), height=220, elem_id="batch-files")
        folder = gr.File(file_count="directory", label=i18n("batch_folder"), height=220, elem_id="batch-folder")
        references = gr.File(file_types=[".csv"], label=i18n("references"), height=220, elem_id="batch-references")
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown(i18n("batch_help"))
        with gr.Column(scale=1, min_width=200):
            button = gr.Button(i18n("analyze_button"), variant="primary", elem_id="batch-button")
    clips = example_clips()
    if clips:
        gr.Examples(examples=[[clips, str(EXAMPLES_DIR / "references.csv")]], inputs=[files, references],
                    label=i18n("batch_examples"), example_labels=[f"{len(clips)} × wav + references.csv"])
    # Results below the inputs, full width: the table has up to ten columns.
    summary = gr.Markdown(label=i18n("batch_summary"), elem_id="batch-summary")
    table = gr.Dataframe(label=i18n("results"), interactive=False, max_height=420, elem_id="batch-table")
    with gr.Row():
        with gr.Column(scale=3):
            # No label badge: it would cover the first panel's title.
            plot = gr.Plot(label=i18n("batch_plot"), show_label=False, elem_id="batch-plot")
        with gr.Column(scale=1, min_width=200):
            csv = gr.File(label=i18n("download_csv"), interactive=False, elem_id="batch-csv")
            subtitles = gr.File(label=i18n("download_srt_zip"), interactive=False, elem_id="batch-srt")
    button.click(analyzer.analyze, inputs=[files, references, folder], outputs=[summary, table, csv, plot, subtitles],
                 api_name="analyze_batch", **run_model)


def _compare_tab(comparer: Comparer, model_names: list[str], i18n: gr.I18n, run_model: dict) -> None:
    gr.Markdown(i18n("compare_help"))
    with gr.Row():
        references = gr.File(file_types=[".csv"], label=i18n("compare_references"), elem_id="compare-references")
        predictions = gr.File(file_count="multiple", file_types=[".csv"], label=i18n("compare_predictions"),
                              elem_id="compare-predictions")
    with gr.Row():
        models = gr.CheckboxGroup(choices=model_names, label=i18n("compare_models"), elem_id="compare-models")
        audio = gr.File(file_count="multiple", label=i18n("compare_audio"), elem_id="compare-audio")
    button = gr.Button(i18n("compare_button"), variant="primary", elem_id="compare-button")
    scores = gr.Dataframe(label=i18n("compare_scores"), interactive=False, elem_id="compare-scores")
    plot = gr.Plot(label=i18n("compare_plot"), show_label=False, elem_id="compare-plot")
    differences = gr.Dataframe(label=i18n("compare_differences"), wrap=True, interactive=False,
                               elem_id="compare-differences")
    button.click(comparer.compare, inputs=[references, predictions, models, audio], outputs=[scores, plot, differences],
                 api_name="compare", **run_model)


def _training_tab(viewer: TrainingViewer, i18n: gr.I18n, app: gr.Blocks) -> None:
    gr.Markdown(i18n("training_help"))
    with gr.Row(equal_height=True):
        with gr.Column():
            # Custom values pass Gradio's own check so that API clients (whose session never saw a
            # refreshed list) can name a run; `TrainingViewer.curves` accepts listed names only.
            run = gr.Dropdown(choices=viewer.run_names(), label=i18n("training_run"), allow_custom_value=True,
                              elem_id="training-run")
            refresh = gr.Button(i18n("training_refresh"), size="sm")
        uploaded = gr.File(file_types=[".jsonl"], label=i18n("training_upload"), height=140, elem_id="training-upload")
    button = gr.Button(i18n("training_button"), variant="primary", elem_id="training-button")
    summary = gr.Markdown(elem_id="training-summary")
    plot = gr.Plot(label=i18n("training_plot"), show_label=False, elem_id="training-plot")
    # The list is read when a page opens and on request, so new runs appear without a restart.
    app.load(viewer.run_choices, outputs=[run], api_visibility="private")
    refresh.click(viewer.run_choices, outputs=[run], api_visibility="private")
    button.click(viewer.curves, inputs=[run, uploaded], outputs=[plot, summary], api_name="training_curves")
    run.input(viewer.curves, inputs=[run], outputs=[plot, summary], api_visibility="private")
