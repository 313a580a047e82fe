"""Script wrapper of the model benchmark (the code is in the shipped package: core/bench/model_bench.py).

    python bench/model_bench.py [options]     # the same as: python main.py bench [options]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.bench.model_bench import __doc__ as DOC
from core.bench.model_bench import configure, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    sys.exit(run(parser.parse_args()))
