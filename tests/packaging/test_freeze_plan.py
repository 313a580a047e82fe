"""What goes into the frozen app, checked without a build: the rules in packaging/freeze_plan.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.packaging.conftest import packaging_module

freeze_plan = packaging_module("freeze_plan")

SITE = "/venv/lib/python3.11/site-packages"


def test_build_kind_comes_from_R1OMNI_TORCH():
    assert freeze_plan.torch_kind({}) == "cpu"
    assert freeze_plan.torch_kind({"R1OMNI_TORCH": " CUDA "}) == "cuda"
    with pytest.raises(ValueError, match="cpu, cuda"):
        freeze_plan.torch_kind({"R1OMNI_TORCH": "rocm"})


def test_a_torch_that_does_not_match_the_kind_stops_the_build_with_the_fix():
    assert freeze_plan.torch_mismatch("cpu", None) is None and freeze_plan.torch_mismatch("cuda", "12.8") is None
    assert "R1OMNI_TORCH=cuda" in freeze_plan.torch_mismatch("cpu", "12.8")
    assert "CPU-only torch" in freeze_plan.torch_mismatch("cuda", None)


def test_cuda_is_left_out_of_the_cpu_build_only():
    cuda_libs = [("torch/lib/libtorch_cuda.so", f"{SITE}/torch/lib/libtorch_cuda.so"),
                 ("nvidia/cudnn/lib/libcudnn.so.9", f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"),
                 ("nvidia/nccl/lib/libnccl.so.2", f"{SITE}/nvidia/nccl/lib/libnccl.so.2")]
    for dest, src in cuda_libs:
        assert not freeze_plan.keep_binary(dest, src, "cpu")
        assert freeze_plan.keep_binary(dest, src, "cuda")
    assert {"triton", "nvidia"} <= set(freeze_plan.excluded_modules("cpu"))
    cuda_excludes = freeze_plan.excluded_modules("cuda")
    assert not [m for m in cuda_excludes if m.split(".")[0] in ("triton", "nvidia") or "cuda" in m]
    core = ("torch/lib/libtorch_cpu.so", f"{SITE}/torch/lib/libtorch_cpu.so")
    assert freeze_plan.keep_binary(*core, "cpu") and freeze_plan.keep_binary(*core, "cuda")


def test_torch_test_libraries_qt_extras_and_system_libraries_stay_out():
    def keep(dest, src=None):
        return freeze_plan.keep_binary(dest, src or f"{SITE}/{dest}", "cpu")

    assert not keep("torch/lib/libtorchbind_test.so") and not keep("torch/lib/libjitbackend_test.so")
    assert not keep("PySide6/Qt/plugins/platforms/libqeglfs.so") and not keep("PySide6/Qt/lib/libQt6Quick.so.6")
    assert not keep("PySide6/Qt/plugins/platformthemes/libqgtk3.so")
    for wanted in ("PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqwayland.so",
                   "PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/imageformats/libqsvg.so",
                   "PySide6/Qt/lib/libQt6Widgets.so.6", "cv2/cv2.abi3.so"):
        assert keep(wanted), wanted
    # the system's own copy of a library is the .deb's dependency, a wheel's copy travels with the app
    assert not keep("libxcb-icccm.so.4", "/usr/lib/x86_64-linux-gnu/libxcb-icccm.so.4")
    assert not keep("libffi.so.8", "/lib/x86_64-linux-gnu/libffi.so.8")
    assert keep("av.libs/libavcodec-5e6b81c2.so.62", f"{SITE}/av.libs/libavcodec-5e6b81c2.so.62")
    assert keep("libpython3.11.so.1.0", "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0")
    assert not freeze_plan.keep_data("PySide6/Qt/translations/qtbase_de.qm")
    assert not freeze_plan.keep_data("PySide6/Qt/translations/qt_zh_CN.qm")  # only qtbase of a translated language
    assert freeze_plan.keep_data("PySide6/Qt/translations/qtbase_zh_CN.qm")  # desktop.i18n loads it for Chinese
    assert freeze_plan.keep_data("cv2/data/haarcascade_frontalface_default.xml")


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_model_packages_needed_follow_imports_transitively(tmp_path):
    models = tmp_path / "models"
    _write(models / "__init__.py")
    _write(models / "app" / "__init__.py")
    _write(models / "app" / "modeling_app.py", "def f():\n    from ..helper import H\n")
    _write(models / "app" / "modular_app.py", "from ..unused.modeling_unused import U\n")  # generated-code source
    _write(models / "helper" / "__init__.py")
    _write(models / "helper" / "configuration_helper.py", "from ...models.deep.x import D\n")
    _write(models / "deep" / "__init__.py")
    _write(models / "deep" / "x.py")
    _write(models / "unused" / "__init__.py")
    _write(models / "unused" / "modeling_unused.py", "from transformers.models.app import A\n")
    _write(models / "unused" / "sub" / "__init__.py")
    _write(models / "notapackage" / "readme.py")

    assert freeze_plan.transformers_model_packages(models) == ["app", "deep", "helper", "unused"]
    assert freeze_plan.transformers_models_needed(models, ("app",)) == ["app", "deep", "helper"]
    assert freeze_plan.transformers_unused_model_modules(models, ("app",)) == [
        "transformers.models.app.modular_app",
        "transformers.models.unused.modeling_unused",
        "transformers.models.unused.sub",
    ]  # every package __init__ stays (AutoTokenizer imports each on its way)


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="transformers not installed")
def test_the_installed_transformers_keeps_the_app_models_and_drops_the_others():
    import transformers

    models = Path(transformers.__file__).parent / "models"
    needed = freeze_plan.transformers_models_needed(models)
    assert set(freeze_plan.TRANSFORMERS_MODELS_USED) <= set(needed)
    assert "encoder_decoder" in needed  # imported by the auto tokenizer module at import time
    assert len(needed) < 20, needed  # out of hundreds of model packages
    unused = set(freeze_plan.transformers_unused_model_modules(models))
    assert "transformers.models.llama.modeling_llama" in unused
    assert "transformers.models.qwen2.modular_qwen2" in unused
    assert not {"transformers.models.qwen2.modeling_qwen2", "transformers.models.llama"} & unused


def test_the_model_server_stays_out_of_a_desktop_build_unless_asked_for():
    desktop = set(freeze_plan.excluded_modules("cpu"))
    assert {"ray", "fastapi", "uvicorn", "grpc"} <= desktop
    assert not {"ray", "fastapi"} & set(freeze_plan.excluded_modules("cpu", server=True))
    assert freeze_plan.with_server({"R1OMNI_BUILD_SERVE": "1"}) and not freeze_plan.with_server({})


def test_the_translated_languages_are_the_windows():
    """freeze_plan keeps a copy of desktop.i18n.TRANSLATED (that module imports Qt); they must agree."""
    pytest.importorskip("PySide6")
    from desktop import i18n

    assert freeze_plan.TRANSLATED_LANGUAGES == i18n.TRANSLATED
