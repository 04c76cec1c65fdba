// The catalog page: every hall as a card (thumbnail or theme colours), Chinese
// title, size, and the member's progress once signed in.
import { halls as fetchHalls, progress as fetchProgress, session } from './api.js';
import { el, replace } from './dom.js';
import { applyStatic, bindLanguageButton, onLangChange, pick, t } from './i18n.js';
import { signInForm } from './signin.js';

const list = document.getElementById('halls');
const status = document.getElementById('status');
let catalog = null;
let completion = {};

function thumbnailUrl(hall) {
  const thumb = hall.thumbnail;
  if (!thumb) return null;
  if (typeof thumb === 'string') return thumb.includes('/') ? thumb : `/objects/${thumb}`;
  return thumb.url || (thumb.name ? `/objects/${thumb.name}` : null);
}

function hallBytes(hall) {
  const bytes = hall.bytes || {};
  return bytes.glb_meshopt || bytes.glb || 0;
}

function card(hall) {
  const theme = hall.theme || {};
  const title = pick(hall.title) || hall.id;
  const url = thumbnailUrl(hall);
  const picture = url
    ? el('img', { class: 'thumb', src: url, alt: '', loading: 'lazy' })
    : el('div', { class: 'thumb swatch', 'aria-hidden': 'true' }, el('span', { text: (hall.title && hall.title.zh || title).slice(0, 2) }));
  if (!url) {
    picture.style.setProperty('--primary', theme.primary || '#b22222');
    picture.style.setProperty('--secondary', theme.secondary || '#f2c14e');
  }
  const facts = [
    t('rooms', { n: hall.rooms ?? '–' }), t('exhibits', { n: hall.exhibits ?? '–' }),
    hall.checkpoints ? t('checkpoints', { n: hall.checkpoints }) : null,
    hallBytes(hall) ? t('size', { mb: (hallBytes(hall) / 1048576).toFixed(1) }) : null,
  ].filter(Boolean);
  const done = completion[hall.id];
  const badge = done && done.started ? el('span', { class: `badge ${done.complete ? 'done' : 'partial'}`,
    text: done.complete ? t('complete') : `${t('inProgress')}${done.total ? ` ${done.passed ?? 0}/${done.total}` : ''}` }) : null;
  const link = el('a', { class: 'hall-link', href: `/halls/${encodeURIComponent(hall.id)}` },
    picture,
    el('span', { class: 'hall-title', lang: 'zh-CN', text: hall.title && hall.title.zh ? hall.title.zh : title }),
    hall.title && hall.title.en ? el('span', { class: 'hall-title-en', lang: 'en', text: hall.title.en }) : null);
  return el('li', { class: 'hall-card', dataset: { hall: hall.id } },
    link,
    badge,
    el('p', { class: 'hall-intro', text: pick(hall.intro) }),
    el('p', { class: 'hall-facts', text: facts.join(' · ') }));
}

function render() {
  if (!catalog) return;
  replace(list, catalog.halls.map(card));
  status.hidden = true;
  const current = session.get();
  document.getElementById('member').textContent = current ? t('signedInAs', { name: current.member.name }) : '';
  document.getElementById('signout').hidden = !current;
  document.getElementById('signin-button').hidden = Boolean(current);
}

async function start() {
  applyStatic();
  bindLanguageButton(document.getElementById('lang'));
  onLangChange(render);
  document.getElementById('signout').addEventListener('click', () => { session.signOut(); completion = {}; render(); });
  const box = document.getElementById('signin');
  document.getElementById('signin-button').addEventListener('click', () => {
    box.hidden = !box.hidden;
    if (box.hidden) return;
    replace(box, signInForm(async () => {
      box.hidden = true;
      completion = (await fetchProgress()) || {};
      render();
    }));
    box.querySelector('input')?.focus();
  });
  try {
    catalog = await fetchHalls();
  } catch (error) {
    status.textContent = t('catalogError', { error: error.message });
    return;
  }
  render();
  completion = (await fetchProgress()) || {};
  render();
  window.__hallsCatalog = { halls: catalog.halls.map((h) => h.id), rendered: list.children.length };
}

start();
