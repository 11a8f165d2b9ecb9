"""Audio loading: every format users upload, every bad case with its documented reason."""

import subprocess

import numpy as np
import pytest
import soundfile as sf

from data_utils.audio import SAMPLE_RATE, AudioError, audio_info, load_audio


def tone(seconds=1.0, rate=SAMPLE_RATE, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([mono] * channels, axis=1).astype(np.float32) if channels > 1 else mono.astype(np.float32)


@pytest.fixture(scope="module")
def source_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "tone.wav"
    sf.write(path, tone(1.0, 44100, 2), 44100, subtype="PCM_16")
    return path


def ffmpeg(source, target, *options):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), *options, str(target)], check=True)
    return target


@pytest.mark.parametrize("name, options", [
    ("a.flac", []), ("a.mp3", ["-codec:a", "libmp3lame"]), ("a.ogg", ["-codec:a", "libvorbis"]),
    ("a.opus", ["-codec:a", "libopus"]), ("a.webm", ["-codec:a", "libopus"]), ("a.m4a", ["-codec:a", "aac"]),
    ("a.aac", ["-codec:a", "aac"]), ("a8k.wav", ["-ar", "8000"]), ("a11k.wav", ["-ar", "11025"]),
    ("a22k.wav", ["-ar", "22050"]), ("a48k.wav", ["-ar", "48000"]), ("a24.wav", ["-codec:a", "pcm_s24le"]),
    ("af.wav", ["-codec:a", "pcm_f32le"]), ("mono.wav", ["-ac", "1"]),
])
def test_formats_load_as_16k_mono_float32(tmp_path, source_wav, name, options):
    path = ffmpeg(source_wav, tmp_path / name, *options)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / SAMPLE_RATE - 1.0) < 0.08  # codecs pad a few ms
    assert 0.1 < np.abs(audio).max() <= 1.0
    # The tone survives decoding and resampling: its energy sits at 220 Hz.
    spectrum = np.abs(np.fft.rfft(audio[: SAMPLE_RATE // 2]))
    assert abs(np.argmax(spectrum) * 2 - 220) <= 6


def test_format_is_decided_by_content_not_extension(tmp_path, source_wav):
    flac = ffmpeg(source_wav, tmp_path / "real.flac")
    disguised = tmp_path / "looks_like.mp3"
    disguised.write_bytes(flac.read_bytes())
    mp3 = ffmpeg(source_wav, tmp_path / "real.mp3")
    named_wav = tmp_path / "actually_mp3.wav"
    named_wav.write_bytes(mp3.read_bytes())
    assert len(load_audio(disguised)) == len(load_audio(flac))
    assert abs(len(load_audio(named_wav)) - len(load_audio(mp3))) == 0


def test_kspon_pcm_is_raw_16k_s16le(tmp_path):
    samples = (tone(0.5) * 32767).astype("<i2")
    path = tmp_path / "KsponSpeech_000001.pcm"
    path.write_bytes(samples.tobytes())
    audio = load_audio(path)
    assert len(audio) == len(samples)
    np.testing.assert_allclose(audio, samples / 32768.0, atol=1e-6)


def test_hangul_file_name_with_spaces(tmp_path, source_wav):
    path = ffmpeg(source_wav, tmp_path / "녹음 파일 01.m4a", "-codec:a", "aac")
    assert len(load_audio(path)) > 0


def bad(path, match):
    with pytest.raises(AudioError, match=match) as info:
        load_audio(path)
    assert info.value.path == str(path)
    return info.value


def test_bad_inputs_raise_one_error_type_with_reason(tmp_path, source_wav):
    (tmp_path / "empty.wav").write_bytes(b"")
    bad(tmp_path / "empty.wav", "empty file")

    header = tmp_path / "header_only.wav"
    sf.write(header, np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    bad(header, "no audio samples")

    full = ffmpeg(source_wav, tmp_path / "full.mp3")
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(full.read_bytes()[:200])
    bad(truncated, "no audio samples|cannot decode")

    noise = tmp_path / "random.wav"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    bad(noise, "not a recognised audio format")

    text = tmp_path / "notes.mp3"
    text.write_text("이것은 오디오가 아닙니다\n", encoding="utf-8")
    bad(text, "not a recognised audio format")

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    bad(silent, "silent")

    nan = tmp_path / "nan.wav"
    samples = tone(0.5)
    samples[100] = np.nan
    samples[200] = np.inf
    sf.write(nan, samples, SAMPLE_RATE, subtype="FLOAT")
    bad(nan, "NaN or infinite")

    long = tmp_path / "long.wav"
    sf.write(long, tone(3.0), SAMPLE_RATE)
    bad_long = pytest.raises(AudioError, match="too long")
    with bad_long:
        load_audio(long, max_seconds=2.0)

    bad(tmp_path / "missing.wav", "file not found")
    bad(tmp_path, "is a directory")


def test_truncated_wav_loads_what_is_there(tmp_path, source_wav):
    data = source_wav.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2 + 1])  # cut mid-frame
    audio = load_audio(cut)
    assert 0.3 < len(audio) / SAMPLE_RATE < 0.7


def test_clipped_and_tiny_audio(tmp_path):
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.clip(tone(0.5) * 10, -1, 1), SAMPLE_RATE)
    assert np.abs(load_audio(clipped)).max() <= 1.0
    tiny = tmp_path / "1ms.wav"
    sf.write(tiny, tone(0.001), SAMPLE_RATE)
    assert len(load_audio(tiny)) == 16


def test_audio_info_reads_header(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(1.5, 22050, 2), 22050)
    info = audio_info(path)
    assert (round(info.duration, 3), info.sample_rate, info.channels) == (1.5, 22050, 2)


def test_every_real_recording_loads(real_speech):
    paths = sorted(p for p in real_speech.rglob("*") if p.suffix.lower() in (".mp3", ".flac", ".wav"))
    assert len(paths) > 800
    failures = {}
    total = 0.0
    for path in paths:
        try:
            total += len(load_audio(path)) / SAMPLE_RATE
        except AudioError as error:
            failures[str(path)] = error.reason
    print(f"\nloaded {len(paths) - len(failures)}/{len(paths)} real recordings, {total / 60:.1f} min")
    assert not failures


def test_over_long_compressed_file_is_refused_before_decoding(tmp_path, source_wav):
    long_wav = tmp_path / "long.wav"
    sf.write(long_wav, tone(20.0), SAMPLE_RATE)
    for name, options in [("long.m4a", ["-codec:a", "aac"]), ("long.flac", [])]:
        path = ffmpeg(long_wav, tmp_path / name, *options)
        with pytest.raises(AudioError, match=r"too long: 20\.\d s \(limit 5 s\)"):
            load_audio(path, max_seconds=5)


def test_decoder_errors_are_short(tmp_path, source_wav):
    full = ffmpeg(source_wav, tmp_path / "full.m4a", "-codec:a", "aac")
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(full.read_bytes()[:64])
    with pytest.raises(AudioError) as info:
        load_audio(broken)
    assert "\n" not in info.value.reason and len(info.value.reason) < 260
    assert "ffmpeg version" not in info.value.reason
