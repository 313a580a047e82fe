"""What goes into the frozen app and what stays out: the rules ``r1omni-live.spec`` applies.

Plain functions over module names and file paths (no PyInstaller import), so that the quick test suite checks
the rules without a build. The spec imports this file by path (``packaging/`` is not a Python package: its name
would shadow the PyPI ``packaging`` library).

Two builds, chosen by ``R1OMNI_TORCH`` (the same variable ``run.sh`` uses to install torch):

- ``cpu`` (default): the CPU torch wheel. CUDA and Triton cannot be used, so anything from them is left out.
- ``cuda``: the PyPI CUDA torch with its ``nvidia-*`` wheels. Nothing CUDA-related is excluded: PyInstaller's
  torch hook collects the ``nvidia.*`` libraries named in torch's requirements.
"""

from __future__ import annotations

import ast
import fnmatch
import os
from pathlib import Path, PurePosixPath

TORCH_KINDS = ("cpu", "cuda")

# transformers model packages whose code the app runs: R1-Omni is SigLIP (vision) + Whisper (audio) + BERT (the
# gate) + Qwen2 (the language model); ``auto`` resolves tokenizer classes by name.
TRANSFORMERS_MODELS_USED = ("auto", "bert", "qwen2", "siglip", "whisper")

# Never imported by the app, or imported only inside try/except by a library that then does without:
EXCLUDED_MODULES = (
    # other GUI toolkits and Qt bindings (pyqtgraph probes them; the app is PySide6)
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2",
    # Qt's test module: pyqtgraph imports it inside try/except for its own test helpers
    "PySide6.QtTest",
    # notebooks, plotting and training stacks that transformers and torch import optionally
    "IPython", "matplotlib", "pandas", "scipy", "sklearn", "tensorboard", "tensorflow", "jax", "flax",
    "torchvision", "torchaudio", "accelerate", "datasets", "sentencepiece",
    # torch's TensorBoard writer (needs tensorboard). Not torch.testing._internal: torch.utils.checkpoint, which
    # the transformers models import, imports a module from it
    "torch.utils.tensorboard",
    # test runners and build tools that happen to be installed in a development venv
    "pytest", "_pytest", "pytestqt", "setuptools", "pip", "PyInstaller",
)
EXCLUDED_MODULES_CPU = ("triton", "nvidia")  # CUDA-only: the CPU wheel cannot use them
# The model server and cluster evaluation (the ``serve`` extra): a desktop build is its client only, which needs
# nothing but the standard library; ``main.py serve`` and ``--ray`` then say how to get them. R1OMNI_BUILD_SERVE=1
# keeps them (a build for a GPU server).
EXCLUDED_MODULES_SERVE = ("ray", "fastapi", "starlette", "uvicorn", "uvloop", "grpc", "aiohttp", "aiosignal",
                          "opentelemetry", "msgpack", "watchfiles", "websockets", "httptools")

# Shared libraries and data inside torch that only its own C++ tests, benchmarks or builds use (glob on the path
# inside the bundle). torch/bin holds test executables and protoc (hooks/hook-torch.py adds back the one program
# torch needs); torch/include and torch/share are for C++ extensions, which the app never compiles.
TORCH_DATA_EXCLUDES = ("**/*.h", "**/*.hpp", "**/*.cuh", "**/*.cpp", "**/*.lib", "**/*.pyi", "**/*.cmake",
                       "test/**", "bin/**", "include/**", "share/**")
TORCH_TEST_LIBRARIES = ("libtorchbind_test.so", "libjitbackend_test.so", "libbackend_with_compiler.so",
                        "libaoti_custom_ops.so", "libshm_windows*")
# What a CUDA build of torch brings; left out of the CPU build (no CPU wheel has them, this is a guard)
CUDA_LIBRARIES = ("libcuda*.so*", "libcudnn*.so*", "libcublas*.so*", "libcufft*.so*", "libcurand*.so*",
                  "libcusolver*.so*", "libcusparse*.so*", "libnccl*.so*", "libnvrtc*.so*", "libnvJitLink*.so*",
                  "libnvToolsExt*.so*", "libcupti*.so*", "libtorch_cuda*.so", "libc10_cuda.so", "libtriton*.so*")

# The languages the window is translated into: desktop.i18n.TRANSLATED (a copy here, as that module imports Qt;
# tests/packaging/test_freeze_plan.py checks they agree). Their resources/i18n/r1omni_<lang>.qm ship with the app
# (r1omni-live.spec) and so does Qt's own qtbase_<lang>.qm (standard buttons, file dialogs), which desktop.i18n
# loads from Qt's translations folder; every other Qt translation stays out.
TRANSLATED_LANGUAGES = ("zh_CN",)
QT_TRANSLATIONS_KEPT = tuple(f"PySide6/Qt/translations/qtbase_{language}.qm" for language in TRANSLATED_LANGUAGES)

# Qt files the app never loads: QML, Wayland compositor side, printing, SQL, designer, network plugins (the app
# makes no network connection from Qt), and the translations of Qt's own dialogs but QT_TRANSLATIONS_KEPT
QT_EXCLUDES = ("PySide6/Qt/qml/**", "PySide6/Qt/translations/**", "PySide6/Qt/plugins/designer/**",
               "PySide6/Qt/plugins/qmltooling/**", "PySide6/Qt/plugins/qmllint/**", "PySide6/Qt/plugins/sqldrivers/**",
               "PySide6/Qt/plugins/printsupport/**", "PySide6/Qt/plugins/tls/**",
               "PySide6/Qt/plugins/networkinformation/**", "PySide6/Qt/plugins/wayland-graphics-integration-server/**",
               "PySide6/Qt/lib/libQt6Qml*.so*", "PySide6/Qt/lib/libQt6Quick*.so*", "PySide6/Qt/lib/libQt6Pdf*.so*",
               # platforms for embedded screens (EGLFS, framebuffer, VNC, Vulkan display) and their input plugins;
               # a desktop app runs on xcb or wayland (offscreen and minimal stay for scripted runs)
               "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
               "PySide6/Qt/plugins/platforms/libqminimalegl.so", "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
               "PySide6/Qt/plugins/platforms/libqvnc.so", "PySide6/Qt/plugins/egldeviceintegrations/**",
               "PySide6/Qt/plugins/generic/**", "PySide6/Qt/lib/libQt6EglFs*.so*",
               # the GTK 3 theme would make the .deb depend on GTK; Qt's own dialogs and the portal theme remain
               "PySide6/Qt/plugins/platformthemes/libqgtk3.so")

# Where a Linux system keeps the libraries its package manager owns. A library found there is the system's,
# not a Python package's: the .deb depends on its package instead of carrying a copy.
SYSTEM_LIBRARY_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/")


def torch_kind(environ: dict[str, str] | None = None) -> str:
    """The build kind from ``R1OMNI_TORCH`` (default ``cpu``); ValueError naming the accepted values."""
    value = (environ if environ is not None else os.environ).get("R1OMNI_TORCH", "cpu").strip().lower() or "cpu"
    if value not in TORCH_KINDS:
        raise ValueError(f"R1OMNI_TORCH={value!r}: use one of {', '.join(TORCH_KINDS)}")
    return value


def torch_mismatch(kind: str, torch_cuda_version: str | None) -> str | None:
    """Why the installed torch cannot make this kind of build, or None.

    ``torch_cuda_version`` is ``torch.version.cuda`` (None for a CPU wheel).
    """
    if kind == "cpu" and torch_cuda_version:
        return (f"R1OMNI_TORCH=cpu but the venv has a CUDA build of torch (CUDA {torch_cuda_version}); a CPU build "
                "would carry several GB it cannot use. Install the CPU wheel (pip install torch==2.13.0 from the "
                "CPU index) or build with R1OMNI_TORCH=cuda.")
    if kind == "cuda" and not torch_cuda_version:
        return ("R1OMNI_TORCH=cuda but the venv has a CPU-only torch: the frozen app could never use a GPU. "
                "Make a fresh venv with R1OMNI_TORCH=cuda bash packaging/run.sh build.")
    return None


def with_server(environ: dict[str, str] | None = None) -> bool:
    """Whether the build keeps the model server (``R1OMNI_BUILD_SERVE=1``)."""
    return (environ if environ is not None else os.environ).get("R1OMNI_BUILD_SERVE", "0").strip() == "1"


def excluded_modules(kind: str, server: bool = False) -> list[str]:
    """Module names PyInstaller must leave out (each with its submodules)."""
    return (list(EXCLUDED_MODULES) + (list(EXCLUDED_MODULES_CPU) if kind == "cpu" else [])
            + ([] if server else list(EXCLUDED_MODULES_SERVE)))


def transformers_model_packages(models_dir: Path) -> list[str]:
    """Names of the model packages in ``transformers/models`` (folders with an ``__init__.py``), sorted."""
    return sorted(p.name for p in models_dir.iterdir() if (p / "__init__.py").is_file())


def _is_generated_or_script(module_file: Path) -> bool:
    """``modular_*`` files are code-generation sources and ``convert_*`` weight conversion scripts: never run."""
    return module_file.stem.startswith(("modular_", "convert_"))


def _model_packages_referenced(module_file: Path) -> set[str]:
    """Model packages that a module inside ``transformers/models/<pkg>/`` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(module_file.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        parts = node.module.split(".")
        if node.level == 2:  # from ..bert import X
            found.add(parts[0])
        elif node.level == 3 and parts[0] == "models" and len(parts) > 1:  # from ...models.bert import X
            found.add(parts[1])
        elif node.level == 0 and parts[:2] == ["transformers", "models"] and len(parts) > 2:
            found.add(parts[2])
    return found


def transformers_models_needed(models_dir: Path, used: tuple[str, ...] = TRANSFORMERS_MODELS_USED) -> list[str]:
    """The used model packages plus every model package their code imports, transitively (``auto`` imports
    ``encoder_decoder`` at module level, for one), sorted."""
    available = set(transformers_model_packages(models_dir))
    needed, todo = set(used) & available, list(set(used) & available)
    while todo:
        package = todo.pop()
        for module_file in (models_dir / package).rglob("*.py"):
            if _is_generated_or_script(module_file):
                continue
            for ref in _model_packages_referenced(module_file) & available - needed:
                needed.add(ref)
                todo.append(ref)
    return sorted(needed)


def transformers_unused_model_modules(models_dir: Path, used: tuple[str, ...] = TRANSFORMERS_MODELS_USED) -> list[str]:
    """Dotted names of every module inside the model packages the app does not need (see
    :func:`transformers_models_needed`), and of the needed packages' generated sources and scripts.

    Every package's ``__init__`` stays in the build: ``AutoTokenizer`` walks the tokenizer table in order and
    imports each listed package before the one it wants (``align`` before ``bert``). A package whose files are
    absent imports as an empty lazy module and the walk moves on; a missing package would be an ImportError.
    """
    needed = set(transformers_models_needed(models_dir, used))
    names = []
    for package in transformers_model_packages(models_dir):
        for path in sorted((models_dir / package).rglob("*.py")):
            rel = path.relative_to(models_dir / package).with_suffix("")
            if rel.parts == ("__init__",) or (package in needed and not _is_generated_or_script(path)):
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.append(".".join(("transformers", "models", package, *parts)))
    return names


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    """Shell-style match of a ``/``-separated path; ``*`` also crosses ``/`` (so ``dir/**`` is all below dir)."""
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def is_system_library(source: str) -> bool:
    """True for a shared library the system provides (under /usr/lib and friends, not inside a Python package)."""
    real = os.path.realpath(source)
    return any(real.startswith(d) for d in SYSTEM_LIBRARY_DIRS) and "-packages/" not in real


def keep_binary(dest: str, source: str, kind: str) -> bool:
    """Whether a collected binary (``dest``: its path inside the bundle) belongs in the build."""
    name = PurePosixPath(dest).name
    if is_system_library(source):
        return False
    if dest.startswith("torch/") and _matches(name, TORCH_TEST_LIBRARIES):
        return False
    if kind == "cpu" and _matches(name, CUDA_LIBRARIES):
        return False
    return not _matches(dest, QT_EXCLUDES)


def keep_data(dest: str) -> bool:
    """Whether a collected data file belongs in the build (Qt files the app never loads stay out)."""
    return dest in QT_TRANSLATIONS_KEPT or not _matches(dest, QT_EXCLUDES)
