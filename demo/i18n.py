"""English and Korean text of the app.

Two kinds of text: `UI` labels go to the browser through `gr.I18n` (the browser's language picks
the dictionary) and are filled in once with the server's limits; `MESSAGES` are worded on the
server per request (errors, summaries, table headers, figure titles), in the language the
browser asks for in its `Accept-Language` header. Scripts that send none get English.
"""

from __future__ import annotations

import gradio as gr

from demo.limits import Limits

LANGUAGES = ("en", "ko")

UI = {
    "en": {
        "title": "# Korean speech toolkit",
        "intro": "One network transcribes Korean speech (over jamo) and predicts the speaker's "
                 "age group, gender and accent.",
        "tab_transcribe": "Transcribe",
        "tab_batch": "Batch analysis",
        "tab_compare": "Compare models",
        "tab_training": "Training curves",
        "audio_input": "Recording (microphone or file)",
        "transcribe_button": "Transcribe",
        "transcribe_help": "Any common format works (wav, mp3, m4a, webm, ogg, flac). Recordings longer than "
                           "{window_seconds:g} s are cut at pauses; the limit is {max_seconds:g} s per recording.",
        "examples": "Examples (synthetic voices, not used in training)",
        "live_audio": "Live: speak and watch the transcript grow",
        "live_transcript": "Live transcript",
        "live_help": "Pieces are written at each pause. Browsers allow the microphone only on localhost or HTTPS "
                     "(a hosted Space, `python app.py --share`, or a reverse proxy with TLS). At most {max_live_seconds:g} s per session.",
        "transcript": "Transcript",
        "words": "Words with their start times (orange: low confidence, check these)",
        "download_srt": "Subtitles (SRT)",
        "download_srt_zip": "Subtitles (one SRT per file, zip)",
        "asr_only": "This model only transcribes: it has no speaker heads (age group, gender, accent).",
        "whisper_encoder": "This model's encoder is whisper-base's (log-mel, absolute positions), not a Wav2Vec2: "
                           "pretrained on real speech, it is the toolkit's model for real voices until a Wav2Vec2 "
                           "student distilled from it reads as well.",
        "jamo": "Jamo sequence",
        "head_age": "Age group",
        "head_gender": "Gender",
        "head_accent": "Accent",
        "duration_s": "Audio duration (s)",
        "processing_s": "Processing time (s)",
        "batch_files": "Audio files or zip archives",
        "batch_folder": "…or a whole folder",
        "references": "References (optional): CSV of file name → transcript, or a manifest",
        "analyze_button": "Analyze",
        "batch_help": "Up to {max_batch_files} files and {max_batch_minutes:g} minutes of audio per batch, "
                      "{max_file_size} per upload (a zip may unpack to at most {max_zip_megabytes:g} MB). "
                      "References are matched to files by file name and add WER/CER per file and in total.",
        "batch_examples": "Example batch",
        "batch_summary": "Summary",
        "results": "Results",
        "download_csv": "Results as CSV",
        "batch_plot": "Summary plots",
        "compare_help": "Compare models on the same references: upload prediction CSVs (written by "
                        "`python -m model.predict`), or pick models served here and upload the audio.",
        "compare_references": "References: CSV of file name → transcript (+ gender, age, accent), or a manifest",
        "compare_predictions": "Prediction CSVs (one per model)",
        "compare_models": "Models on this server",
        "compare_audio": "Audio for the selected models (files or zip)",
        "compare_button": "Compare",
        "compare_scores": "Scores per model",
        "compare_plot": "Comparison",
        "compare_differences": "Utterances where the models differ most",
        "training_help": "Curves from a training run's metrics.jsonl: pick a run on this server or upload the file.",
        "training_run": "Training run",
        "training_refresh": "Refresh list",
        "training_upload": "…or upload a metrics.jsonl",
        "training_button": "Show curves",
        "training_plot": "Training curves",
        "training_summary": "Run summary",
    },
    "ko": {
        "title": "# 한국어 음성 분석 도구",
        "intro": "하나의 모델이 한국어 음성을 (자모 단위로) 받아쓰고 화자의 나이대, 성별, 억양을 예측합니다.",
        "tab_transcribe": "받아쓰기",
        "tab_batch": "일괄 분석",
        "tab_compare": "모델 비교",
        "tab_training": "학습 곡선",
        "audio_input": "녹음 (마이크 또는 파일)",
        "transcribe_button": "받아쓰기",
        "transcribe_help": "일반적인 형식(wav, mp3, m4a, webm, ogg, flac)을 모두 지원합니다. {window_seconds:g}초보다 긴 "
                           "녹음은 쉬는 구간에서 나누어 처리하며, 녹음 하나의 최대 길이는 {max_seconds:g}초입니다.",
        "examples": "예제 (합성 음성, 학습에 사용하지 않음)",
        "live_audio": "실시간: 말하는 동안 받아쓰기가 이어집니다",
        "live_transcript": "실시간 받아쓰기",
        "live_help": "말을 멈출 때마다 한 구간씩 확정됩니다. 브라우저는 localhost 또는 HTTPS에서만 마이크를 허용합니다 "
                     "(Hugging Face Spaces, `python app.py --share`, TLS를 쓰는 리버스 프록시). 한 세션은 최대 {max_live_seconds:g}초입니다.",
        "transcript": "받아쓰기 결과",
        "words": "단어별 시작 시각 (주황색: 신뢰도가 낮은 단어, 확인이 필요합니다)",
        "download_srt": "자막 (SRT)",
        "download_srt_zip": "자막 (파일마다 SRT 하나, zip)",
        "asr_only": "이 모델은 받아쓰기만 합니다: 화자 정보(나이대, 성별, 억양)를 예측하는 부분이 없습니다.",
        "whisper_encoder": "이 모델의 인코더는 Wav2Vec2가 아니라 whisper-base의 인코더입니다(로그 멜, 절대 위치): 실제 음성으로 "
                           "사전학습되어, 이를 증류한 Wav2Vec2 모델이 같은 수준으로 받아쓸 때까지 실제 목소리용 모델입니다.",
        "jamo": "자모 열",
        "head_age": "나이대",
        "head_gender": "성별",
        "head_accent": "억양",
        "duration_s": "음성 길이 (초)",
        "processing_s": "처리 시간 (초)",
        "batch_files": "음성 파일 또는 zip 압축 파일",
        "batch_folder": "…또는 폴더 전체",
        "references": "정답 (선택): 파일 이름 → 전사 CSV 또는 매니페스트",
        "analyze_button": "분석",
        "batch_help": "한 번에 최대 {max_batch_files}개 파일, 총 {max_batch_minutes:g}분까지 분석하며 파일 하나는 "
                      "{max_file_size}까지 올릴 수 있습니다 (zip은 풀었을 때 최대 {max_zip_megabytes:g} MB). "
                      "정답은 파일 이름으로 연결되며 파일별·전체 WER/CER을 계산합니다.",
        "batch_examples": "예제 묶음",
        "batch_summary": "요약",
        "results": "결과",
        "download_csv": "결과 CSV",
        "batch_plot": "요약 그래프",
        "compare_help": "같은 정답으로 모델을 비교합니다: 예측 CSV(`python -m model.predict` 출력)를 올리거나, "
                        "이 서버의 모델을 고르고 음성을 올리세요.",
        "compare_references": "정답: 파일 이름 → 전사 CSV (+ 성별, 나이, 억양) 또는 매니페스트",
        "compare_predictions": "예측 CSV (모델마다 하나)",
        "compare_models": "이 서버의 모델",
        "compare_audio": "선택한 모델에 넣을 음성 (파일 또는 zip)",
        "compare_button": "비교",
        "compare_scores": "모델별 점수",
        "compare_plot": "비교 그래프",
        "compare_differences": "모델 간 차이가 가장 큰 발화",
        "training_help": "학습 실행의 metrics.jsonl 곡선: 이 서버의 실행을 고르거나 파일을 올리세요.",
        "training_run": "학습 실행",
        "training_refresh": "목록 새로 고침",
        "training_upload": "…또는 metrics.jsonl 올리기",
        "training_button": "곡선 보기",
        "training_plot": "학습 곡선",
        "training_summary": "실행 요약",
    },
}

MESSAGES = {
    "en": {
        "need_audio": "Record or upload a recording first.",
        "live_limit": "The live session reached its limit of {seconds:.0f} s; start it again to go on.",
        "audio_error": "Cannot use this recording: {reason}",
        "no_audio_files": "No audio files in the upload.",
        "batch_too_many_files": "Too many files: {count} (at most {limit} per batch).",
        "batch_too_long": "Too much audio: more than {seconds:.0f} s (at most {limit:.0f} s per batch).",
        "zip_too_many_members": "Zip refused: {count} entries (at most {limit}).",
        "zip_too_large": "Zip refused: it unpacks to {megabytes:.0f} MB (at most {limit:.0f} MB).",
        "zip_unsafe_member": "Zip refused: entry '{member}' has an unsafe path ({problem}).",
        "zip_unreadable": "Zip refused: '{name}' cannot be read ({reason}).",
        "references_unreadable": "The references file is not a readable CSV ({reason}).",
        "references_columns": "The references CSV needs a file column (path/file) and a transcript column "
                              "(text/transcript); it has: {columns}.",
        "compare_need_references": "Upload the references first.",
        "compare_need_sets": "Upload prediction CSVs or pick at least one model.",
        "compare_need_audio": "Upload the audio for the selected models.",
        "compare_unknown_model": "Unknown model: {name}.",
        "compare_model_unavailable": "Model '{name}' cannot be loaded ({reason}).",
        "compare_no_common": "No file is in the references and in every prediction set (matched by file name).",
        "predictions_columns": "{name}: a prediction CSV needs the columns path and text.",
        "training_no_run": "Pick a training run or upload a metrics.jsonl.",
        "training_unknown_run": "No training run named '{name}' on this server.",
        "training_no_metrics": "No metrics in this file.",
        "batch_summary": "**{files}** files, **{failed}** failed · {seconds:.1f} s of audio analysed in {elapsed:.1f} s",
        "batch_scores": "References matched for **{matched}** of {files} files: "
                        "**CER (no spaces) {cer_nospace:.1%}**, sWER {swer:.1%} · WER {wer:.1%}, CER {cer:.1%}, JER {jer:.1%}",
        "batch_accuracy": "{head} accuracy {accuracy:.1%} (n={n})",
        "progress_checking": "Checking files",
        "progress_analyzing": "Analysing",
        "training_last": "Step **{step}**, {elapsed:.0f} s of training",
        "training_best": "best validation CER **{cer:.1%}** at step {step}",
        "col_file": "file", "col_transcript": "transcript", "col_age": "age", "col_gender": "gender",
        "col_accent": "accent", "col_duration": "duration (s)", "col_error": "error", "col_reference": "reference",
        "col_wer": "WER", "col_cer": "CER", "col_cer_nospace": "CER (no spaces)", "col_swer": "sWER", "col_model": "model", "col_files": "files", "col_jer": "JER",
        "col_substitutions": "substitutions", "col_deletions": "deletions", "col_insertions": "insertions",
        "col_accuracy": "{head} accuracy", "col_spread": "CER spread",
        "fig_predicted": "predicted {head}", "fig_durations": "duration (s)", "fig_cer": "CER per file",
        "fig_files": "files", "fig_rates": "error rates", "fig_accuracy": "head accuracy",
        "fig_error_types": "word error types", "fig_wer_by": "WER by {group}", "fig_no_labels": "no {group} labels",
    },
    "ko": {
        "need_audio": "먼저 녹음하거나 파일을 올리세요.",
        "live_limit": "실시간 세션이 최대 길이 {seconds:.0f}초에 이르렀습니다. 다시 시작하면 이어집니다.",
        "audio_error": "이 녹음은 사용할 수 없습니다: {reason}",
        "no_audio_files": "올린 파일 중에 음성 파일이 없습니다.",
        "batch_too_many_files": "파일이 너무 많습니다: {count}개 (한 번에 최대 {limit}개).",
        "batch_too_long": "음성이 너무 깁니다: {seconds:.0f}초 초과 (한 번에 최대 {limit:.0f}초).",
        "zip_too_many_members": "zip 거부: 항목 {count}개 (최대 {limit}개).",
        "zip_too_large": "zip 거부: 풀면 {megabytes:.0f} MB (최대 {limit:.0f} MB).",
        "zip_unsafe_member": "zip 거부: 항목 '{member}'의 경로가 안전하지 않습니다 ({problem}).",
        "zip_unreadable": "zip 거부: '{name}'을(를) 읽을 수 없습니다 ({reason}).",
        "references_unreadable": "정답 파일을 CSV로 읽을 수 없습니다 ({reason}).",
        "references_columns": "정답 CSV에는 파일 열(path/file)과 전사 열(text/transcript)이 필요합니다. 현재 열: {columns}.",
        "compare_need_references": "먼저 정답 파일을 올리세요.",
        "compare_need_sets": "예측 CSV를 올리거나 모델을 하나 이상 고르세요.",
        "compare_need_audio": "선택한 모델에 넣을 음성을 올리세요.",
        "compare_unknown_model": "알 수 없는 모델: {name}.",
        "compare_model_unavailable": "모델 '{name}'을(를) 불러올 수 없습니다 ({reason}).",
        "compare_no_common": "정답과 모든 예측에 공통으로 있는 파일이 없습니다 (파일 이름 기준).",
        "predictions_columns": "{name}: 예측 CSV에는 path와 text 열이 필요합니다.",
        "training_no_run": "학습 실행을 고르거나 metrics.jsonl을 올리세요.",
        "training_unknown_run": "이 서버에 '{name}' 학습 실행이 없습니다.",
        "training_no_metrics": "이 파일에는 지표가 없습니다.",
        "batch_summary": "파일 **{files}**개, 실패 **{failed}**개 · 음성 {seconds:.1f}초를 {elapsed:.1f}초에 분석",
        "batch_scores": "정답과 연결된 파일 **{matched}**/{files}개: **띄어쓰기 제외 CER {cer_nospace:.1%}**, sWER {swer:.1%} · WER {wer:.1%}, CER {cer:.1%}, JER {jer:.1%}",
        "batch_accuracy": "{head} 정확도 {accuracy:.1%} (n={n})",
        "progress_checking": "파일 확인 중",
        "progress_analyzing": "분석 중",
        "training_last": "스텝 **{step}**, 학습 {elapsed:.0f}초",
        "training_best": "최고 검증 CER **{cer:.1%}** (스텝 {step})",
        "col_file": "파일", "col_transcript": "받아쓰기", "col_age": "나이대", "col_gender": "성별",
        "col_accent": "억양", "col_duration": "길이 (초)", "col_error": "오류", "col_reference": "정답",
        "col_wer": "WER", "col_cer": "CER", "col_cer_nospace": "CER (띄어쓰기 제외)", "col_swer": "sWER", "col_model": "모델", "col_files": "파일 수", "col_jer": "JER",
        "col_substitutions": "대치", "col_deletions": "삭제", "col_insertions": "삽입",
        "col_accuracy": "{head} 정확도", "col_spread": "CER 차이",
        "fig_predicted": "예측된 {head}", "fig_durations": "길이 (초)", "fig_cer": "파일별 CER",
        "fig_files": "파일 수", "fig_rates": "오류율", "fig_accuracy": "예측 정확도",
        "fig_error_types": "단어 오류 유형", "fig_wer_by": "{group}별 WER", "fig_no_labels": "{group} 정보 없음",
    },
}

# Head names as people read them; class labels stay the model's own (scripts compare them).
HEAD_NAMES = {"en": {"age": "age group", "gender": "gender", "accent": "accent"},
              "ko": {"age": "나이대", "gender": "성별", "accent": "억양"}}


def make_i18n(limits: Limits) -> gr.I18n:
    values = {**vars(limits), "max_batch_minutes": limits.max_batch_seconds / 60,
              "max_zip_megabytes": limits.max_zip_bytes / 2**20, "max_file_size": limits.max_file_size.upper()}
    return gr.I18n(**{lang: {k: v.format(**values) for k, v in UI[lang].items()} for lang in LANGUAGES})


def language(request: gr.Request | None) -> str:
    """'ko' when the browser prefers Korean (first entry of Accept-Language), else 'en'."""
    header = request.headers.get("accept-language", "") if request is not None else ""
    return "ko" if header.strip().lower().startswith("ko") else "en"


def message(key: str, lang: str, **values) -> str:
    template = MESSAGES.get(lang, MESSAGES["en"]).get(key) or MESSAGES["en"][key]
    return template.format(**values)


def head_name(head: str, lang: str) -> str:
    return HEAD_NAMES.get(lang, HEAD_NAMES["en"]).get(head, head)
