"""The Debian package: how Depends is found (quick, on recorded tool output and a tiny ELF tree), and the real
.deb checked with dpkg-deb, installed into a scratch root, run from there and removed (slow)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PARITY_DIR
from tests.packaging.conftest import packaging_module, run

deb_package = packaging_module("deb_package")

OBJDUMP = """
Dynamic Section:
  NEEDED               libQt6Gui.so.6
  NEEDED               libxcb-cursor.so.0
  NEEDED               libc.so.6
  RUNPATH              $ORIGIN/../../lib

Version References:
  required from libc.so.6:
    0x09691a75 0x00 09 GLIBC_2.2.5
    0x06969194 0x00 05 GLIBC_2.14
    0x069691b4 0x00 03 GLIBC_2.34
"""
LDCONFIG = """123 libs found in cache `/etc/ld.so.cache'
\tlibxcb-cursor.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libxcb-cursor.so.0
\tlibxcb-cursor.so.0 (libc6) => /lib/i386-linux-gnu/libxcb-cursor.so.0
\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6
"""


def test_objdump_gives_needed_libraries_and_the_newest_glibc_symbol():
    needs = deb_package.parse_objdump(OBJDUMP)
    assert needs.needed == {"libQt6Gui.so.6", "libxcb-cursor.so.0", "libc.so.6"}
    assert needs.glibc == (2, 34)  # numeric order: 2.34 > 2.14 > 2.2.5
    assert deb_package.parse_objdump("no dynamic section") == deb_package.ElfNeeds(frozenset(), ())


def test_linker_cache_keeps_this_machines_word_size():
    where = deb_package.parse_ldconfig(LDCONFIG, machine="x86-64")
    assert where == {"libxcb-cursor.so.0": "/lib/x86_64-linux-gnu/libxcb-cursor.so.0",
                     "libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6"}


def test_dpkg_search_output_maps_paths_to_packages():
    owners = deb_package.parse_dpkg_search(
        "libxcb-cursor0:amd64: /usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0\n"
        "diversion by foo from: /usr/lib/x86_64-linux-gnu/libz.so.1\n"
        "libc6:amd64, libc6-dbg: /lib/x86_64-linux-gnu/libc.so.6\n"
        "dpkg-query: no path found matching pattern /nowhere\n"
    )
    assert owners == {"/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0": "libxcb-cursor0",
                      "/lib/x86_64-linux-gnu/libc.so.6": "libc6"}


@pytest.mark.skipif(not (shutil.which("objdump") and shutil.which("dpkg")), reason="needs binutils and dpkg")
def test_depends_of_a_tree_that_carries_one_library_and_needs_the_system_for_the_rest(tmp_path):
    """A copy of this Python's executable (needs libc, maybe libpython) next to what it needs from the system."""
    app = tmp_path / "app"
    app.mkdir()
    exe = Path(sys.executable).resolve()
    shutil.copy(exe, app / "python")
    needed = deb_package.elf_needs(app / "python").needed
    deps = deb_package.system_dependencies(app)
    assert deps.packages[-1].startswith("libc6 (>= 2.")
    assert not deps.unresolved or all(n.startswith("libpython") for n in deps.unresolved)
    assert set(deps.sonames) <= needed and "libc.so.6" in deps.sonames
    # a library carried in the tree is not asked of the system
    ldconfig = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    libc = deb_package.parse_ldconfig(ldconfig,
                                      machine=deb_package._ldconfig_machine())["libc.so.6"]
    (app / "libc.so.6").symlink_to(libc)
    assert "libc.so.6" not in deb_package.system_dependencies(app).sonames


def test_control_file_is_well_formed():
    text = deb_package.control_text(version="0.1.0+cpu", architecture="amd64", depends=("libxcb1", "libc6 (>= 2.34)"),
                                    installed_kib=1024, summary="live emotion", maintainer="A <a@b.invalid>",
                                    kind="cpu")
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", text, re.MULTILINE))
    assert fields["Package"] == "r1omni-live" and fields["Depends"] == "libxcb1, libc6 (>= 2.34)"
    assert fields["Installed-Size"] == "1024" and text.endswith("\n")
    # continuation lines start with a space; an empty one is " ."
    assert all(line.startswith(" ") for line in text.split("Description: ", 1)[1].splitlines()[1:])


# ---- the real package ---------------------------------------------------------------------------------------
def _dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
def test_deb_metadata_and_contents(frozen_build):
    deb = str(frozen_build.path("deb"))
    info = _dpkg_deb("--info", deb)
    fields = dict(re.findall(r"^ ([A-Za-z-]+): (.*)$", info, re.MULTILINE))
    assert fields["Package"] == "r1omni-live"
    assert fields["Version"] == f"{frozen_build.info['version']}+{frozen_build.info['kind']}"
    depends = [d.strip() for d in fields["Depends"].split(",")]
    names = {d.split(" ")[0] for d in depends}
    # PortAudio (loaded by name) and what Qt's xcb platform plugin links: what a bare desktop may lack
    assert {"libportaudio2", "libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0", "libfontconfig1"} <= names
    assert any(re.fullmatch(r"libc6 \(>= 2\.\d+\)", d) for d in depends)
    contents = _dpkg_deb("--contents", deb)
    paths = {line.split()[5] for line in contents.splitlines()}
    assert {"./opt/r1omni-live/r1omni-live", "./usr/share/applications/r1omni-live.desktop",
            "./usr/share/icons/hicolor/256x256/apps/r1omni-live.png",
            "./usr/share/icons/hicolor/scalable/apps/r1omni-live.svg", "./usr/share/doc/r1omni-live/copyright"} <= paths
    launcher = next(line for line in contents.splitlines() if " ./usr/bin/r1omni-live " in line)
    assert launcher.startswith("l") and launcher.endswith("-> ../../opt/r1omni-live/r1omni-live")
    assert all(" root/root " in line for line in contents.splitlines())  # not the builder's user
    assert not [p for p in paths if p.endswith(".safetensors")]


@pytest.mark.slow
def test_tarball_holds_the_app_folder(frozen_build):
    listing = subprocess.run(["tar", "-tzf", str(frozen_build.path("tarball"))], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    app = frozen_build.path("app_dir")
    expected = {f"{app.name}/{p.relative_to(app).as_posix()}" for p in app.rglob("*") if not p.is_dir()}
    assert {m for m in listing if not m.endswith("/")} == expected


@pytest.mark.slow
def test_deb_installs_into_a_scratch_root_runs_and_removes_cleanly(frozen_build, tmp_path):
    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True)
    (admin / "status").touch()
    dpkg = ["dpkg", f"--root={root}", "--log=/dev/null"]
    try:
        # the libraries are on this machine, not in the empty scratch root: don't ask for them there
        installed = subprocess.run([*dpkg, "--force-depends", "-i", str(frozen_build.path("deb"))],
                                   capture_output=True, text=True, check=False)
        assert installed.returncode == 0, installed.stderr[-3000:]
        launcher = root / "usr" / "bin" / "r1omni-live"
        assert launcher.is_symlink() and launcher.resolve() == (root / "opt" / "r1omni-live" / "r1omni-live")

        proc = run([launcher, "--help"], tmp_path)
        assert proc.returncode == 0 and "analyze" in proc.stdout and "--source" in proc.stdout, proc.stderr
        proc = run([launcher, "analyze", PARITY_DIR / "clips" / "clip_a.mp4", "--model", PARITY_DIR / "checkpoint",
                    "--max-new-tokens", "24", "--json", "--device", "cpu", "--dtype", "float32"], tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        with np.load(PARITY_DIR / "cases" / "va_mp4.npz") as z:
            assert json.loads(proc.stdout.strip().splitlines()[-1])["token_ids"] == z["gen_ids"].tolist()

        removed = subprocess.run([*dpkg, "-r", "r1omni-live"], capture_output=True, text=True, check=False)
        assert removed.returncode == 0, removed.stderr[-3000:]
        # running the app wrote nothing into its install folder (else dpkg would have left it behind)
        assert not (root / "opt" / "r1omni-live").exists() and not launcher.exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)  # a GB: not left to pytest's retention of old tmp folders
