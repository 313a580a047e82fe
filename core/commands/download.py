"""Fetch a checkpoint of the R1-Omni family and write a ready-to-use model folder.

    python main.py download [--dir DIR] [--model NAME] [--hub huggingface|modelscope] [--endpoint URL]

Downloads the checkpoint (default R1-Omni-0.5B), the towers its config.json names (Whisper-large-v3, SigLIP) and
the configuration + vocabulary of bert-base-uncased (safetensors, configs and tokenizer files only), with
progress in bytes, resume and size checks, into DIR; then DIR is a model folder:

    python main.py analyze clip.mp4 --model DIR

Mirrors: --endpoint URL or HF_ENDPOINT (e.g. https://hf-mirror.com) for the Hugging Face hub; --hub modelscope
fetches the same files from ModelScope (pip install 'r1omni-live[modelscope]'; MODELSCOPE_ENDPOINT or --endpoint).
A gated or private repository needs HF_TOKEN (or `hf auth login`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.cli_types import EXIT_CODES_HELP, EXIT_FAILED
from core.model.family import DEFAULT_MEMBER, MEMBERS

PROGRESS_FORMATS = ("human", "json")
HUMAN_PERIOD_S = 5.0  # one progress line this often when stderr is not a terminal


def default_dir(member: str = DEFAULT_MEMBER) -> Path:
    from core.engine import default_model_dir

    base = default_model_dir()
    return base if member == DEFAULT_MEMBER else base.parent / member


def _models_help() -> str:
    return "; ".join(f"{m.name} (~{m.download_gb:g} GB, ~{m.memory_gb:g} GB memory)" for m in MEMBERS)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("--dir", type=Path, default=None,
                        help="model folder to create or complete (default: the app's data folder, models/NAME)")
    parser.add_argument("--model", default=DEFAULT_MEMBER, choices=[m.name for m in MEMBERS], metavar="NAME",
                        help=f"which checkpoint: {_models_help()}")
    parser.add_argument("--hub", default="huggingface", choices=("huggingface", "modelscope"),
                        help="where to fetch from (default huggingface)")
    parser.add_argument("--endpoint", default=None, metavar="URL",
                        help="hub address, e.g. a mirror (default: HF_ENDPOINT / MODELSCOPE_ENDPOINT, else the hub)")
    parser.add_argument("--progress", default="human", choices=PROGRESS_FORMATS,
                        help="human: a progress line; json: one JSON object per line on stderr (for the app)")


class _Reporter:
    """Writes log lines and progress to stderr as text or as JSON lines ({"event": ...})."""

    def __init__(self, fmt: str, stream=None) -> None:
        self.json = fmt == "json"
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_line = float("-inf")
        self._mid_line = False  # a "\r" progress line is showing on the terminal

    def _end_line(self) -> None:
        if self._mid_line:
            print(file=self.stream)
            self._mid_line = False

    def emit(self, event: str, **fields) -> None:
        print(json.dumps({"event": event, **fields}, ensure_ascii=False), file=self.stream, flush=True)

    def log(self, text: str) -> None:
        if self.json:
            self.emit("log", text=text)
        else:
            self._end_line()
            print(text, file=self.stream, flush=True)

    def progress(self, p) -> None:
        from core.model.download import format_progress

        if self.json:
            self.emit("progress", done=p.done_bytes, total=p.total_bytes, speed=round(p.bytes_per_s),
                       eta=None if p.eta_s is None else round(p.eta_s, 1), item=p.item)
        elif self.tty:
            print(f"\r{format_progress(p):<70}", end="", file=self.stream, flush=True)
            self._mid_line = True
        else:
            now = time.monotonic()
            if now - self._last_line >= HUMAN_PERIOD_S or p.done_bytes >= p.total_bytes:
                self._last_line = now
                print(format_progress(p), file=self.stream, flush=True)

    def failed(self, exc) -> None:
        if self.json:
            self.emit("error", kind=getattr(exc, "kind", "error"), problem=exc.problem, fix=exc.fix)
            return
        self._end_line()
        print(f"error: {exc}", file=self.stream, flush=True)


def run(args: argparse.Namespace) -> int:
    from core.model.download import download_model, make_hub
    from core.model.errors import ModelLoadError

    out = _Reporter(args.progress)
    dest = args.dir or default_dir(args.model)
    try:
        hub = make_hub(args.hub, args.endpoint)
        download_model(dest, args.model, hub, log=out.log, progress=out.progress)
    except ModelLoadError as exc:
        out.failed(exc)
        return EXIT_FAILED
    if out.json:
        out.emit("done", folder=str(dest))
    print(dest)
    return 0
