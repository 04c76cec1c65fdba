// The member sign-in form (member number, name, branch) shared by the catalog and the quiz.
import { session } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

/** A form that signs in and calls onDone(session); shows the server's error otherwise. */
export function signInForm(onDone) {
  const stored = session.get();
  const memberId = el('input', { name: 'member_id', required: true, autocomplete: 'username', maxlength: 64 });
  const name = el('input', { name: 'name', required: true, autocomplete: 'name', maxlength: 40 });
  const branch = el('input', { name: 'branch', autocomplete: 'organization', maxlength: 64 });
  const code = el('input', { name: 'enrolment_code', type: 'password', autocomplete: 'one-time-code', maxlength: 128 });
  if (stored && stored.member) {
    memberId.value = stored.member.member_id || '';
    name.value = stored.member.name || '';
    branch.value = stored.member.branch || '';
  }
  const status = el('p', { class: 'form-status', role: 'status' });
  const button = el('button', { type: 'submit', class: 'primary', text: t('signIn') });
  const form = el('form', { class: 'signin' },
    el('h3', { text: t('signInTitle') }),
    el('label', {}, el('span', { text: t('memberId') }), memberId),
    el('label', {}, el('span', { text: t('memberName') }), name),
    el('label', {}, el('span', { text: t('branch') }), branch),
    el('label', {}, el('span', { text: t('enrolmentCode') }), code),
    button, status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    status.textContent = '';
    try {
      const value = await session.signIn({
        member_id: memberId.value.trim(), name: name.value.trim(), branch: branch.value.trim() || undefined,
        enrolment_code: code.value.trim() || undefined,
      });
      onDone(value);
    } catch (error) {
      status.textContent = t('quizUnavailable', { error: error.message });
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
