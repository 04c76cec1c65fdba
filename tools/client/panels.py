"""On-screen text: the status line, exhibit panels, tour subtitles and the checkpoint quiz.

All text uses one CJK font (`halls_contract.fonts.find_cjk_font`); without one the
client still runs, with Panda3D's default font (Chinese shows as boxes) and a
warning.  Panels live in `aspect2d`; nothing here talks to the network
except `QuizDialog`, which submits on a worker thread so the frame never waits.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from direct.gui.DirectGui import DGG, DirectButton, DirectFrame
from direct.gui.OnscreenText import OnscreenText
from panda3d.core import TextNode

from halls_contract.fonts import FontNotFound, find_cjk_font
from halls_contract.manifest import Checkpoint, Exhibit, text_of
from tools.client.quiz import AnswerSheet, AttemptResult, QuizError

log = logging.getLogger(__name__)

PANEL_BG = (0.08, 0.06, 0.05, 0.82)
ACCENT = (0.95, 0.78, 0.35, 1.0)
TEXT = (1.0, 1.0, 1.0, 1.0)
CHOSEN = (0.7, 0.18, 0.15, 1.0)
UNCHOSEN = (0.25, 0.22, 0.2, 1.0)
TRUE_FALSE = ((True, "对"), (False, "错"))


def load_font(loader) -> object | None:
    """The CJK font as a Panda3D font, or None (with a warning) when there is none."""
    try:
        path = find_cjk_font()
    except FontNotFound as exc:
        log.warning("%s; Chinese text will not show", exc)
        return None
    font = loader.loadFont(str(path))
    if font is None or not font.isValid():
        log.warning("panels: could not load the font %s", path)
        return None
    font.setPixelsPerUnit(48)
    return font


class Hud:
    """A status line (top left) and a subtitle line (bottom centre)."""

    def __init__(self, font, base) -> None:
        common = {"font": font, "fg": TEXT, "shadow": (0, 0, 0, 0.8), "mayChange": True}
        self.status = OnscreenText(
            text="", parent=base.a2dTopLeft, pos=(0.04, -0.07), scale=0.045, align=TextNode.ALeft, **common
        )
        self.subtitle = OnscreenText(
            text="",
            parent=base.a2dBottomCenter,
            pos=(0, 0.12),
            scale=0.05,
            align=TextNode.ACenter,
            wordwrap=30,
            **common,
        )
        self.hint = OnscreenText(
            text="", parent=base.a2dBottomCenter, pos=(0, 0.25), scale=0.045, align=TextNode.ACenter, **common
        )

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_subtitle(self, text: str) -> None:
        self.subtitle.setText(text)

    def set_hint(self, text: str) -> None:
        self.hint.setText(text)

    def destroy(self) -> None:
        for item in (self.status, self.subtitle, self.hint):
            item.destroy()


class ExhibitPanel:
    """An exhibit's title and text on a dark panel at the right of the view."""

    def __init__(self, font, aspect2d) -> None:
        self.font = font
        self.frame = DirectFrame(
            parent=aspect2d, frameColor=PANEL_BG, frameSize=(-0.02, 1.12, -1.2, 0.06), pos=(0.2, 0, 0.78)
        )
        self.title = OnscreenText(
            parent=self.frame,
            text="",
            pos=(0.02, -0.02),
            scale=0.065,
            fg=ACCENT,
            align=TextNode.ALeft,
            font=font,
            wordwrap=16,
            mayChange=True,
        )
        self.body = OnscreenText(
            parent=self.frame,
            text="",
            pos=(0.02, -0.14),
            scale=0.042,
            fg=TEXT,
            align=TextNode.ALeft,
            font=font,
            wordwrap=25.5,
            mayChange=True,
        )
        self.exhibit: Exhibit | None = None
        self.frame.hide()

    def show(self, exhibit: Exhibit, language: str = "zh") -> None:
        if self.exhibit is exhibit and not self.frame.isHidden():
            return
        self.exhibit = exhibit
        self.title.setText(text_of(exhibit.title, language))
        self.body.setText(text_of(exhibit.text, language))
        self.frame.show()

    def hide(self) -> None:
        self.exhibit = None
        self.frame.hide()

    @property
    def visible(self) -> bool:
        return not self.frame.isHidden()

    def destroy(self) -> None:
        self.frame.destroy()


class QuizDialog:
    """A checkpoint's questions one at a time; answers go to the quiz API on a worker thread.

    `submit(answers) -> AttemptResult` is called off the main thread; call
    `tick()` each frame to show its outcome.
    """

    def __init__(
        self,
        font,
        aspect2d,
        checkpoint: Checkpoint,
        submit: Callable[[dict], AttemptResult],
        on_close: Callable[[], None],
    ) -> None:
        self.font = font
        self.sheet = AnswerSheet(checkpoint)
        self.submit_answers = submit
        self.on_close = on_close
        self.index = 0
        self.busy = False
        self.result: AttemptResult | None = None
        self._outcome: queue.Queue = queue.Queue()
        self.frame = DirectFrame(parent=aspect2d, frameColor=PANEL_BG, frameSize=(-1.0, 1.0, -0.7, 0.7))
        self.heading = OnscreenText(
            parent=self.frame,
            text=text_of(checkpoint.title),
            pos=(0, 0.58),
            scale=0.065,
            fg=ACCENT,
            font=font,
            mayChange=True,
        )
        self.prompt = OnscreenText(
            parent=self.frame,
            text="",
            pos=(-0.92, 0.45),
            scale=0.05,
            fg=TEXT,
            align=TextNode.ALeft,
            font=font,
            wordwrap=36,
            mayChange=True,
        )
        self.message = OnscreenText(
            parent=self.frame, text="", pos=(0, -0.5), scale=0.045, fg=ACCENT, font=font, wordwrap=40, mayChange=True
        )
        self.options: list[DirectButton] = []
        self.nav = [
            self._button("上一题", (-0.6, 0, -0.62), lambda: self.go(-1)),
            self._button("下一题", (0.0, 0, -0.62), lambda: self.go(1)),
            self._button("提交", (0.6, 0, -0.62), self.submit),
            self._button("关闭", (0.85, 0, 0.6), self.close, scale=0.04),
        ]
        self.render_question()

    def _button(self, label: str, pos, command, scale: float = 0.05) -> DirectButton:
        return DirectButton(
            parent=self.frame,
            text=label,
            text_font=self.font,
            scale=scale,
            pos=pos,
            command=command,
            frameColor=UNCHOSEN,
            text_fg=TEXT,
            pad=(0.4, 0.25),
            relief=DGG.FLAT,
        )

    @property
    def questions(self):
        return self.sheet.checkpoint.questions

    def render_question(self) -> None:
        for button in self.options:
            button.destroy()
        self.options = []
        if not self.questions:
            self.prompt.setText("此检查点没有题目。")
            return
        question = self.questions[self.index]
        kind = question.type
        label = {"single": "单选", "multiple": "多选", "true-false": "判断"}.get(kind, "")
        self.prompt.setText(f"{self.index + 1}/{len(self.questions)}（{label}）{text_of(question.prompt)}")
        if kind == "true-false":
            choices = [(value, text) for value, text in TRUE_FALSE]
        else:
            choices = [(option.id, f"{option.id}. {text_of(option.text)}") for option in question.options]
        for row, (value, text) in enumerate(choices):
            button = DirectButton(
                parent=self.frame,
                text=text,
                text_font=self.font,
                text_align=TextNode.ALeft,
                scale=0.048,
                pos=(-0.85, 0, 0.22 - row * 0.14),
                relief=DGG.FLAT,
                frameColor=CHOSEN if self.sheet.is_chosen(question.id, value) else UNCHOSEN,
                text_fg=TEXT,
                pad=(0.3, 0.2),
                command=self.choose,
                extraArgs=[question.id, value],
            )
            self.options.append(button)

    def choose(self, question_id: str, value) -> None:
        if self.busy:
            return
        self.sheet.choose(question_id, value)
        self.render_question()

    def choose_index(self, number: int) -> None:
        """Keyboard: option 1..n of the current question."""
        if not self.questions:
            return
        question = self.questions[self.index]
        if question.type == "true-false":
            values = [value for value, _ in TRUE_FALSE]
        else:
            values = [option.id for option in question.options]
        if 1 <= number <= len(values):
            self.choose(question.id, values[number - 1])

    def go(self, step: int) -> None:
        if self.questions:
            self.index = max(0, min(len(self.questions) - 1, self.index + step))
            self.render_question()

    def submit(self) -> None:
        if self.busy:
            return
        if not self.sheet.complete():
            self.message.setText("还有题目没有作答。")
            return
        self.busy = True
        self.message.setText("正在提交……")
        answers = self.sheet.answers()

        def work() -> None:
            try:
                self._outcome.put(self.submit_answers(answers))
            except QuizError as exc:
                self._outcome.put(exc)
            except Exception as exc:  # noqa: BLE001 - shown to the member, never raised into the frame
                log.exception("quiz submit")
                self._outcome.put(QuizError(f"quiz: {exc}"))

        threading.Thread(target=work, name="quiz-submit", daemon=True).start()

    def tick(self) -> None:
        try:
            outcome = self._outcome.get_nowait()
        except queue.Empty:
            return
        self.busy = False
        if isinstance(outcome, AttemptResult):
            self.result = outcome
            self.message.setText(outcome.summary())
        else:
            self.message.setText(f"提交失败：{outcome}")

    def close(self) -> None:
        self.destroy()
        self.on_close()

    def destroy(self) -> None:
        self.frame.destroy()
