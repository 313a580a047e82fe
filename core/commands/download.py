"""Fetch the R1-Omni weights and write a ready-to-use model folder.

    python main.py download [--dir DIR]

Downloads StarJiaxing/R1-Omni-0.5B, openai/whisper-large-v3, google/siglip-base-patch16-224 and the
configuration + vocabulary of google-bert/bert-base-uncased (safetensors, configs and tokenizer files only,
about 7 GB) from the Hugging Face hub, with progress and resume, into DIR; then DIR is a model folder:

    python main.py analyze clip.mp4 --model DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli_types import EXIT_CODES_HELP, EXIT_FAILED


def default_dir() -> Path:
    from core.engine import default_model_dir

    return default_model_dir()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.add_argument("--dir", type=Path, default=None,
                        help="model folder to create or complete (default: the app's data folder, "
                             "models/R1-Omni-0.5B)")


def run(args: argparse.Namespace) -> int:
    from core.model.download import download_model
    from core.model.errors import ModelLoadError

    dest = args.dir or default_dir()
    try:
        download_model(dest, log=lambda s: print(s, file=sys.stderr))
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(dest)
    return 0
