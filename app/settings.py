"""What the app remembers (QSettings) and the Settings dialog that edits it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from notellm.engine import NoteLLMError
from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS

from .session import IndexOptions, check_model
from .worker import EngineWorker

ORGANIZATION = "NoteLLM"
APPLICATION = "NoteLLM Desktop"
MAX_RECENT = 8


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class AppSettings:
    """Typed access to QSettings; pass a QSettings of your own (tests use an ini file)."""

    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings if settings is not None else QSettings(ORGANIZATION, APPLICATION)

    # --- vaults ----------------------------------------------------------------------------
    @property
    def last_vault(self) -> str | None:
        value = self.qsettings.value("vaults/last")
        return str(value) if value else None

    def recent_vaults(self) -> list[str]:
        value = self.qsettings.value("vaults/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def remember_vault(self, vault: str) -> None:
        recent = [vault] + [v for v in self.recent_vaults() if v != vault]
        self.qsettings.setValue("vaults/recent", recent[:MAX_RECENT])
        self.qsettings.setValue("vaults/last", vault)

    def forget_vault(self, vault: str) -> None:
        self.qsettings.setValue("vaults/recent", [v for v in self.recent_vaults() if v != vault])
        if self.last_vault == vault:
            self.qsettings.remove("vaults/last")

    def clear_recent(self) -> None:
        self.qsettings.setValue("vaults/recent", [])

    # --- index options -----------------------------------------------------------------------
    def index_options(self) -> IndexOptions:
        s = self.qsettings
        exclude = s.value("index/exclude", [])
        if isinstance(exclude, str):
            exclude = [exclude]
        return IndexOptions(
            model=str(s.value("index/model", "") or "") or None,
            exclude=tuple(str(e) for e in (exclude or []) if str(e).strip()),
            content_tokens=_int(s.value("index/content_tokens"), DEFAULT_CONTENT_TOKENS),
            related_count=_int(s.value("view/related_count"), 10),
        )

    def set_index_options(self, options: IndexOptions) -> None:
        s = self.qsettings
        s.setValue("index/model", options.model or "")
        s.setValue("index/exclude", list(options.exclude))
        s.setValue("index/content_tokens", options.content_tokens)
        s.setValue("view/related_count", options.related_count)
        s.sync()

    # --- view state ----------------------------------------------------------------------------
    @property
    def hide_linked(self) -> bool:
        return str(self.qsettings.value("view/hide_linked", "false")).lower() == "true"

    @hide_linked.setter
    def hide_linked(self, value: bool) -> None:
        self.qsettings.setValue("view/hide_linked", "true" if value else "false")

    def value(self, key: str, default=None):
        return self.qsettings.value(key, default)

    def set_value(self, key: str, value) -> None:
        self.qsettings.setValue(key, value)


class SettingsDialog(QDialog):
    """Model file (with a load check), excluded folders, tokens per note, related-note count."""

    def __init__(self, options: IndexOptions, worker: EngineWorker, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(680)
        self.worker = worker

        self.model_edit = QLineEdit(options.model or "")
        self.model_edit.setPlaceholderText(self._default_model_text())
        self.model_edit.setClearButtonEnabled(True)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.check_button = QPushButton("Check it loads")
        self.check_button.clicked.connect(self._check_model)
        model_row = QHBoxLayout()
        model_row.setSpacing(6)
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(browse)
        model_row.addWidget(self.check_button)
        self.model_status = QLabel("Any GGUF model; leave empty for the default.")
        self.model_status.setObjectName("hint")
        self.model_status.setWordWrap(True)
        self.model_status.setMinimumWidth(440)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.exclude_edit = QPlainTextEdit("\n".join(options.exclude))
        self.exclude_edit.setPlaceholderText("templates/*\narchive/*")
        self.exclude_edit.setFixedHeight(90)
        self.exclude_edit.setTabChangesFocus(True)

        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(16, 2048)
        self.tokens_spin.setSingleStep(16)
        self.tokens_spin.setValue(options.content_tokens)
        self.tokens_spin.setSuffix(" tokens")

        self.related_spin = QSpinBox()
        self.related_spin.setRange(1, 50)
        self.related_spin.setValue(options.related_count)

        self.model_edit.setMinimumWidth(300)
        self.tokens_spin.setFixedWidth(150)
        self.related_spin.setFixedWidth(150)
        model_label = QLabel("&Model file:")
        model_label.setBuddy(self.model_edit)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setVerticalSpacing(8)
        form.addRow(model_label, model_row)
        form.addRow("", self.model_status)
        form.addRow("&Excluded folders:", self.exclude_edit)
        hint = QLabel("One pattern per line, relative to the vault, e.g. templates/*. Hidden folders are always left out.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        hint.setMinimumWidth(440)
        form.addRow("", hint)
        form.addRow("&Text read per note:", self.tokens_spin)
        form.addRow("&Related notes shown:", self.related_spin)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        note = QLabel("Changing the model, exclusions or text length re-indexes the vault in the background.")
        note.setObjectName("hint")
        note.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    @staticmethod
    def _default_model_text() -> str:
        try:
            from notellm.engine.config import resolve_model

            return f"Default: {resolve_model(None).name}"
        except NoteLLMError:
            return "No default model installed: choose a GGUF file"

    def _browse(self) -> None:
        start = str(Path(self.model_edit.text()).parent) if self.model_edit.text() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", start, "GGUF models (*.gguf);;All files (*)")
        if path:
            self.model_edit.setText(path)

    def _check_model(self) -> None:
        self.check_button.setEnabled(False)
        self.model_status.setText("Loading the model…")
        check_model(self.worker, self.model_edit.text().strip(), self._model_ok, self._model_failed)

    def _model_ok(self, message: str) -> None:
        self.check_button.setEnabled(True)
        self.model_status.setText("✓ " + message)

    def _model_failed(self, error: Exception) -> None:
        self.check_button.setEnabled(True)
        self.model_status.setText(f"✗ {error}")

    def options(self) -> IndexOptions:
        exclude = tuple(line.strip() for line in self.exclude_edit.toPlainText().splitlines() if line.strip())
        return IndexOptions(
            model=self.model_edit.text().strip() or None,
            exclude=exclude,
            content_tokens=self.tokens_spin.value(),
            related_count=self.related_spin.value(),
        )
