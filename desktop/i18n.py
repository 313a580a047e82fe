"""The window's language: Qt translators chosen from the settings or the system locale, and label names.

Sources: ``resources/i18n/r1omni_zh_CN.ts`` (made by ``pyside6-lupdate`` from every ``tr()`` /
``QCoreApplication.translate`` in ``desktop/``), compiled to ``r1omni_zh_CN.qm`` by ``pyside6-lrelease`` — both
are committed; ``tests/desktop/test_i18n.py`` fails when they drift from the code. To refresh after changing
strings: ``python -m desktop.i18n update`` (then translate the new entries), ``python -m desktop.i18n release``.

English is the source language (no file). Qt's own strings (standard buttons, file dialogs) come from the
``qtbase_zh_CN.qm`` that ships with Qt when it is there. Messages that come from ``core`` (errors, notes) and the
command line stay English. The language is chosen once at start-up; View → Language takes effect at the next
start. Thread: the UI thread.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator
from PySide6.QtGui import QFontDatabase

from core import labels as core_labels

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
I18N_DIR = ROOT / "resources" / "i18n"
CATALOGUE = "r1omni"
ENGLISH = "en"
CHINESE = "zh_CN"
SYSTEM = "system"
TRANSLATED = (CHINESE,)  # languages with a .ts/.qm
CJK_FONT_HINT = "fonts-noto-cjk"  # Debian/Ubuntu package that brings a Simplified Chinese font

_installed: list[QTranslator] = []
_language = ENGLISH


def ts_path(language: str) -> Path:
    return I18N_DIR / f"{CATALOGUE}_{language}.ts"


def qm_path(language: str) -> Path:
    return I18N_DIR / f"{CATALOGUE}_{language}.qm"


def resolve(choice: str, system_locale: QLocale | None = None) -> str:
    """``system`` / ``en`` / ``zh_CN`` -> the language to show. Any Chinese system locale gets Simplified Chinese
    (the only Chinese shipped); every other one English."""
    if choice in (ENGLISH, *TRANSLATED):
        return choice
    locale = system_locale or QLocale.system()
    return CHINESE if locale.language() == QLocale.Language.Chinese else ENGLISH


def install(app: QCoreApplication, choice: str) -> str:
    """Install the translators for ``choice`` on ``app`` (replacing earlier ones); returns the language shown."""
    global _language
    for t in _installed:
        app.removeTranslator(t)
    _installed.clear()
    language = resolve(choice)
    if language != ENGLISH:
        ours = QTranslator(app)
        if ours.load(str(qm_path(language))):
            app.installTranslator(ours)
            _installed.append(ours)
        else:
            log.warning("no translation file %s: the window stays English", qm_path(language))
            language = ENGLISH
    if language != ENGLISH:
        qt_own = QTranslator(app)
        if qt_own.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(qt_own)
            _installed.append(qt_own)
        QLocale.setDefault(QLocale(language))
        if not has_font_for(language):
            log.warning("no font with Simplified Chinese glyphs is installed; text will show as boxes. "
                        "Install one (Debian/Ubuntu: apt-get install %s)", CJK_FONT_HINT)
    else:
        QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    _language = language
    return language


def current() -> str:
    """The language the window shows ("en" or "zh_CN")."""
    return _language


def has_font_for(language: str) -> bool:
    if language != CHINESE:
        return True
    return bool(QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese))


def label_name(label: str | None) -> str:
    """How an emotion label reads in the window's language (ids stay English everywhere else)."""
    return core_labels.display_name(label, _language) if label else ""


# ---------------------------------------------------------------------------------------------------------------
# maintenance: python -m desktop.i18n update|release
# ---------------------------------------------------------------------------------------------------------------
def sources() -> list[Path]:
    return sorted((ROOT / "desktop").glob("*.py"))


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else name


def lupdate(ts: Path) -> subprocess.CompletedProcess:
    """Write the strings of every desktop module into ``ts`` (existing translations kept, vanished ones dropped)."""
    return subprocess.run([_tool("pyside6-lupdate"), *map(str, sources()), "-no-obsolete", "-locations", "none",
                           "-ts", str(ts)],
                          capture_output=True, text=True, check=True, cwd=ROOT)


def lrelease(ts: Path, qm: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("pyside6-lrelease"), str(ts), "-qm", str(qm)], capture_output=True, text=True,
                          check=True)


def main(argv: list[str]) -> int:
    if argv not in (["update"], ["release"]):
        print("usage: python -m desktop.i18n update|release", file=sys.stderr)
        return 2
    for language in TRANSLATED:
        done = lupdate(ts_path(language)) if argv == ["update"] else lrelease(ts_path(language), qm_path(language))
        print(done.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
