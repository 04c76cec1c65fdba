// Checkpoint quizzes: questions from the manifest (no answers), graded by
// the server (POST …/attempts).  One model, two views: the DOM panel here and
// the VR panel (xr.js reads `state` and calls `choose`/`submit`).  Pressing
// submit again after a network error is safe: `submitAttempt` sends the same
// answers under the same Idempotency-Key, so the server counts one try.
import { ApiError, checkpointState, session, submitAttempt } from './api.js';
import { el, replace } from './dom.js';
import { onLangChange, pick, t } from './i18n.js';
import { signInForm } from './signin.js';

export class Quiz {
  constructor({ panel, hallId, onResult = () => {}, onChange = () => {} }) {
    this.panel = panel;
    this.hallId = hallId;
    this.onResult = onResult;
    this.onChange = onChange;
    this.checkpoint = null;
    this.answers = {};
    this.result = null;
    this.error = '';
    this.sending = false;
    this.platform = 'browser';
    onLangChange(() => this.checkpoint && this.render());
  }

  get state() {
    return { checkpoint: this.checkpoint, answers: this.answers, result: this.result, error: this.error,
      sending: this.sending, signedIn: Boolean(session.get()) };
  }

  open(checkpoint) {
    if (this.checkpoint && this.checkpoint.id === checkpoint.id && !this.panel.hidden) return;
    this.checkpoint = checkpoint;
    this.answers = {};
    this.result = null;
    this.error = '';
    this.standing = null;
    this.render();
    this.refreshStanding();
  }

  /** What the server knows of this member here: passed, attempts left, cool-down. */
  async refreshStanding() {
    const checkpoint = this.checkpoint;
    const standing = checkpoint && await checkpointState(this.hallId, checkpoint.id);
    if (standing && this.checkpoint === checkpoint && !this.result) {
      this.standing = standing;
      this.render();
    }
  }

  close() {
    this.checkpoint = null;
    this.panel.hidden = true;
    this.panel.replaceChildren();
    this.onChange();
  }

  /** Pick an option: single and true-false replace, multiple toggles. */
  choose(question, value) {
    if (question.type === 'multiple') {
      const set = new Set(this.answers[question.id] || []);
      if (set.has(value)) set.delete(value); else set.add(value);
      this.answers[question.id] = [...set].sort();
    } else {
      this.answers[question.id] = value;
    }
    this.onChange();
  }

  complete() {
    return this.checkpoint.questions.every((q) => {
      const answer = this.answers[q.id];
      return q.type === 'multiple' ? Array.isArray(answer) && answer.length > 0 : answer !== undefined;
    });
  }

  async submit() {
    if (!this.complete()) {
      this.error = t('quizUnanswered');
      this.render();
      return;
    }
    this.sending = true;
    this.error = '';
    this.render();
    try {
      this.result = await submitAttempt(this.hallId, this.checkpoint.id, this.answers, this.platform);
      this.onResult(this.checkpoint, this.result);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) session.signOut();
      this.error = t('quizUnavailable', { error: error.message });
    } finally {
      this.sending = false;
      this.render();
    }
  }

  retry() {
    this.result = null;
    this.answers = {};
    this.standing = null;
    this.render();
    this.refreshStanding();
  }

  render() {
    const checkpoint = this.checkpoint;
    if (!checkpoint) return;
    const close = el('button', { type: 'button', class: 'close', 'aria-label': t('close'), text: '×', onclick: () => this.close() });
    const head = el('div', { class: 'panel-head' }, el('h2', { text: pick(checkpoint.title) }), close);
    this.panel.dataset.checkpoint = checkpoint.id;
    this.panel.hidden = false;
    if (!session.get()) {
      replace(this.panel, head, el('p', { text: t('signInNeeded') }), signInForm(() => { this.render(); this.refreshStanding(); }));
      this.onChange();
      return;
    }
    if (this.result) {
      replace(this.panel, head, this.resultView());
      this.onChange();
      return;
    }
    const standing = this.standing;
    const blocked = standing && (standing.passed || standing.attempts_left === 0);
    const notes = standing ? [
      standing.passed ? t('quizAlreadyPassed') : null,
      standing.passed ? null : blocked ? t('quizNoAttempts') : (standing.attempts_left != null ? t('quizAttemptsLeft', { n: standing.attempts_left }) : null),
      standing.retry_after ? t('quizRetryAfter', { s: Math.ceil(standing.retry_after) }) : null,
    ].filter(Boolean).map((text) => el('p', { class: 'standing', text })) : [];
    const form = el('form', { class: 'quiz' }, notes, checkpoint.questions.map((q, index) => this.questionView(q, index)));
    const status = el('p', { class: 'form-status', role: 'alert', text: this.error });
    const submit = el('button', { type: 'submit', class: 'primary', disabled: this.sending || blocked,
      text: this.sending ? t('quizSending') : t('quizSubmit') });
    form.append(submit, status);
    form.addEventListener('submit', (event) => { event.preventDefault(); this.submit(); });
    replace(this.panel, head, form);
    this.onChange();
  }

  questionView(question, index) {
    const kind = { single: 'quizSingle', multiple: 'quizMultiple', 'true-false': 'quizJudge' }[question.type];
    const name = `q-${question.id}`;
    const options = question.type === 'true-false'
      ? [{ id: true, label: t('quizTrue') }, { id: false, label: t('quizFalse') }]
      : question.options.map((o) => ({ id: o.id, label: `${o.id}. ${pick(o.text)}` }));
    const answer = this.answers[question.id];
    return el('fieldset', { class: 'question', dataset: { question: question.id } },
      el('legend', {}, el('span', { class: 'qtype', text: `${index + 1}. ${t(kind)}` }), ' ', pick(question.prompt)),
      options.map((option) => {
        const chosen = question.type === 'multiple' ? (answer || []).includes(option.id) : answer === option.id;
        const input = el('input', {
          type: question.type === 'multiple' ? 'checkbox' : 'radio', name, value: String(option.id), checked: chosen,
          onchange: () => this.choose(question, option.id),
        });
        return el('label', { class: 'option' }, input, el('span', { text: option.label }));
      }));
  }

  resultView() {
    const r = this.result;
    const score = r.score || {};
    const byQuestion = new Map((r.results || []).map((item) => [item.question, item]));
    return el('div', { class: `quiz-result ${r.passed ? 'passed' : 'failed'}`, role: 'status' },
      el('p', { class: 'verdict', text: r.passed ? t('quizPassed') : t('quizFailed') }),
      el('p', { class: 'score', text: t('quizScore', { raw: score.raw ?? '–', max: score.max ?? '–' }) }),
      el('ol', { class: 'answers' }, this.checkpoint.questions.map((q) => {
        const item = byQuestion.get(q.id);
        return el('li', { class: item && item.correct ? 'right' : 'wrong' },
          el('span', { text: pick(q.prompt) }), ' ',
          el('strong', { text: item ? (item.correct ? `✓ ${t('quizRight')}` : `✗ ${t('quizWrong')}`) : '' }),
          item && item.explanation ? el('p', { class: 'explanation', text: pick(item.explanation) }) : null);
      })),
      r.hall_complete ? el('p', { class: 'complete', text: t('quizHallComplete') }) : null,
      !r.passed && r.attempts_left !== undefined && r.attempts_left !== null
        ? el('p', { text: t('quizAttemptsLeft', { n: r.attempts_left }) }) : null,
      r.retry_after ? el('p', { text: t('quizRetryAfter', { s: Math.ceil(r.retry_after) }) }) : null,
      !r.passed && (r.attempts_left ?? 1) > 0
        ? el('button', { type: 'button', class: 'primary', text: t('quizRetry'), onclick: () => this.retry() }) : null);
  }
}
