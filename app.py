"""The Gradio app: transcription, batch analysis, model comparison and training curves.

    python app.py [--model DIR_OR_HUB_ID] [--runs-dir runs] [--compare-model DIR ...]

The model is `--model`, else $KOREAN_SPEECH_MODEL, else the bundled demo/whisper-model. The address
comes from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860) unless --host /
--port are given.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from demo.limits import Limits

    defaults = Limits()
    parser = argparse.ArgumentParser(description="Korean speech toolkit: web app and API.")
    parser.add_argument("--model", help="model directory or Hub id (default: $KOREAN_SPEECH_MODEL, then demo/whisper-model)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"),
                        help="training runs shown in the Training tab (default: %(default)s)")
    parser.add_argument("--compare-model", action="append", default=[], metavar="DIR",
                        help="another model offered in the Compare tab (repeatable)")
    parser.add_argument("--host", help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--share", action="store_true",
                        help="also serve on a public HTTPS link (Gradio's tunnel): browsers need HTTPS for the microphone")
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds,
                        help="longest recording accepted (default: %(default)s)")
    parser.add_argument("--window-seconds", type=float, default=defaults.window_seconds,
                        help="longer recordings are cut into utterances at pauses, none longer than this (default: %(default)s)")
    parser.add_argument("--max-live-seconds", type=float, default=defaults.max_live_seconds,
                        help="longest live microphone session (default: %(default)s)")
    parser.add_argument("--max-batch-files", type=int, default=defaults.max_batch_files,
                        help="files in one batch (default: %(default)s)")
    parser.add_argument("--max-batch-seconds", type=float, default=defaults.max_batch_seconds,
                        help="total audio in one batch (default: %(default)s)")
    parser.add_argument("--max-zip-members", type=int, default=defaults.max_zip_members,
                        help="entries in one zip (default: %(default)s)")
    parser.add_argument("--max-zip-mb", type=float, default=defaults.max_zip_bytes / 2**20,
                        help="what the zips of one request may unpack to, in total (default: %(default)s)")
    parser.add_argument("--max-file-size", default=defaults.max_file_size,
                        help="largest single upload, e.g. 50mb (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=2, help="predictions running at once (default: %(default)s)")
    parser.add_argument("--max-queue", type=int, default=32,
                        help="requests waiting at most; more are turned away (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from model.allocator import fix_mmap_threshold

    fix_mmap_threshold()  # before the model and the server allocate anything
    import gradio as gr
    import torch

    from demo.i18n import make_i18n
    from demo.limits import Limits
    from demo.model_store import ModelStore, resolve_model_source
    from demo.ui import EXAMPLES_DIR, build_app

    if args.threads:
        torch.set_num_threads(args.threads)
    limits = Limits(max_seconds=args.max_seconds, window_seconds=args.window_seconds, max_live_seconds=args.max_live_seconds,
                    max_batch_files=args.max_batch_files, max_batch_seconds=args.max_batch_seconds,
                    max_zip_members=args.max_zip_members, max_zip_bytes=int(args.max_zip_mb * 2**20),
                    max_file_size=args.max_file_size)
    store = ModelStore(resolve_model_source(args.model), limits, args.compare_model)
    try:
        store.preload()  # a model that cannot be served fails here, in one line
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    i18n = make_i18n(limits)
    app = build_app(store, limits, args.runs_dir, i18n, model_concurrency=args.concurrency)
    # Local fonts only (no web fonts to fetch); NanumGothic renders Hangul.
    theme = gr.themes.Default(font=["NanumGothic", "ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["NanumGothicCoding", "ui-monospace", "monospace"])
    app.queue(default_concurrency_limit=args.concurrency, max_size=args.max_queue).launch(
        server_name=args.host, server_port=args.port, max_file_size=limits.max_file_size, i18n=i18n, theme=theme,
        allowed_paths=[str(EXAMPLES_DIR)], share=args.share)


if __name__ == "__main__":
    main()
