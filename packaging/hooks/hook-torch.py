"""torch for the frozen app: PyInstaller's contributed torch hook, less torch's own tests and C++ build files.

Differences from the contributed hook, each of which it would otherwise collect (about 200 MB):
- data: no ``torch/test`` (C++ test binaries), ``torch/bin`` (test executables, protoc; only
  ``torch_shm_manager`` is kept, ``import torch`` checks for it), headers, CMake files;
- submodules: not ``torch.utils.tensorboard`` (needs TensorBoard), nor anything else ``freeze_plan`` excludes;
- CUDA libraries follow the build kind (``R1OMNI_TORCH``): inferred from torch's requirements as the
  contributed hook does, which finds none for a CPU wheel.
Sources stay next to the bytecode (``pyz+py``): TorchScript and ``inspect`` read ``.py`` files at run time.
"""

from pathlib import Path

import freeze_plan  # on sys.path: the spec puts packaging/ there
from PyInstaller.utils.hooks import (
    PY_DYLIB_PATTERNS,
    collect_data_files,
    collect_dynamic_libs,
    collect_submodules,
    get_package_paths,
)

module_collection_mode = "pyz+py"
warn_on_missing_hiddenimports = False

_excluded = tuple(freeze_plan.excluded_modules(freeze_plan.torch_kind()))

datas = collect_data_files("torch", excludes=list(freeze_plan.TORCH_DATA_EXCLUDES))
hiddenimports = collect_submodules(
    "torch", filter=lambda name: not any(name == e or name.startswith(e + ".") for e in _excluded)
)
binaries = collect_dynamic_libs("torch", search_patterns=PY_DYLIB_PATTERNS + ["*.so.*"])
# the one program in torch/bin that torch needs: ``import torch`` checks that it exists
binaries += [(str(Path(get_package_paths("torch")[1]) / "bin" / "torch_shm_manager"), "torch/bin")]


def _nvidia_hiddenimports() -> list:
    import packaging.requirements
    from _pyinstaller_hooks_contrib.compat import importlib_metadata
    from _pyinstaller_hooks_contrib.utils import nvidia_cuda

    dist = importlib_metadata.distribution("torch")
    requirements = [packaging.requirements.Requirement(r) for r in dist.requires or []]
    names = [r.name for r in requirements if r.marker is None or r.marker.evaluate()]
    return nvidia_cuda.infer_hiddenimports_from_requirements(names)


if freeze_plan.torch_kind() == "cuda":
    hiddenimports += _nvidia_hiddenimports()

# torch finds its dynamically loaded libraries next to libtorch; symlinks to them at the top level confuse that
bindepend_symlink_suppression = ["**/torch/lib/*.so*"]
