// The catalog page: every hall as a card (thumbnail or theme colours), Chinese
// title, size, and the member's progress once signed in; per hall, "keep for
// offline" and what this device holds (js/offline.js).
import { halls as fetchHalls, progress as fetchProgress, session } from './api.js';
import { el, replace } from './dom.js';
import { applyStatic, bindLanguageButton, onLangChange, pick, t } from './i18n.js';
import { keepHall, networkBadge, refreshKept, registerWorker, removeHall, storageReport, supported } from './offline.js';
import { signInForm } from './signin.js';

const list = document.getElementById('halls');
const status = document.getElementById('status');
let catalog = null;
let completion = {};
let stored = { halls: {}, bytes: 0 }; // storageReport()
const keeping = {}; // hall id -> {done, total, bytes, bytesTotal} while downloading, or {error}
const mb = (bytes) => (bytes / 1048576).toFixed(1);

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
  const box = el('div', { class: 'offline-box' });
  fillOfflineBox(box, hall.id);
  const unavailable = !navigator.onLine && !(stored.halls[hall.id] && stored.halls[hall.id].complete);
  return el('li', { class: `hall-card${unavailable ? ' unavailable' : ''}`, dataset: { hall: hall.id } },
    link,
    badge,
    el('p', { class: 'hall-intro', text: pick(hall.intro) }),
    el('p', { class: 'hall-facts', text: facts.join(' · ') }),
    box);
}

/** The card's offline line: keep / progress / what is stored, and remove. */
function fillOfflineBox(box, hallId) {
  if (!supported()) return;
  const have = stored.halls[hallId];
  const busy = keeping[hallId];
  let state = 'none';
  let text = '';
  if (busy && busy.error) {
    state = 'error';
    text = busy.error;
  } else if (busy) {
    state = 'keeping';
    const percent = busy.bytesTotal ? Math.floor((100 * busy.bytes) / busy.bytesTotal) : 100;
    text = t('keeping', { percent, done: busy.done, total: busy.total });
  } else if (have && have.kept) {
    state = have.complete ? 'kept' : 'partial';
    text = t(have.complete ? 'kept' : 'keptPartial', { mb: mb(have.bytes) });
  } else if (have) {
    state = 'visited';
    text = t('visited', { mb: mb(have.bytes) });
  } else if (!navigator.onLine) {
    text = t('notOffline');
  }
  box.dataset.state = state;
  const keepButton = (state === 'none' || state === 'visited' || state === 'partial' || state === 'error')
    && navigator.onLine
    ? el('button', { type: 'button', class: 'keep', text: t('keep'), title: t('keepTitle'), onclick: () => keep(hallId) })
    : null;
  const removeButton = have && state !== 'keeping'
    ? el('button', { type: 'button', class: 'remove', text: t('removeKept'), onclick: () => remove(hallId) })
    : null;
  const bar = busy && !busy.error
    ? el('progress', { max: String(busy.bytesTotal || 1), value: String(busy.bytes) })
    : null;
  replace(box, text ? el('span', { class: 'offline-state', text }) : null, bar, keepButton, removeButton);
}

function updateBox(hallId) {
  const box = list.querySelector(`[data-hall="${CSS.escape(hallId)}"] .offline-box`);
  if (box) fillOfflineBox(box, hallId);
}

async function keep(hallId) {
  keeping[hallId] = { done: 0, total: 0, bytes: 0, bytesTotal: 0 };
  updateBox(hallId);
  try {
    await keepHall(hallId, { onProgress: (p) => { keeping[hallId] = { ...p }; updateBox(hallId); } });
    delete keeping[hallId];
  } catch (error) {
    keeping[hallId] = { error: error.code === 'quota'
      ? t('noSpace', { need: mb(error.need), free: mb(error.free) })
      : t('keepFailed', { error: error.message }) };
  }
  await refreshStorage();
}

async function remove(hallId) {
  delete keeping[hallId];
  await removeHall(hallId);
  await refreshStorage();
}

/** Read what the device holds and show it: each card's line and the summary under the header. */
async function refreshStorage() {
  if (!supported()) return;
  stored = await storageReport();
  const summary = document.getElementById('storage');
  const keptHalls = Object.values(stored.halls).filter((h) => h.kept);
  const parts = [t('storageSummary', { halls: keptHalls.length, mb: mb(stored.bytes) })];
  if (stored.quota) parts.push(t('storageQuota', { used: mb(stored.usage || 0), quota: mb(stored.quota) }));
  if (stored.persisted !== null) parts.push(t(stored.persisted ? 'storagePersisted' : 'storageNotPersisted'));
  summary.textContent = parts.join(' · ');
  summary.hidden = false;
  if (catalog) for (const hall of catalog.halls) updateBox(hall.id);
  if (window.__hallsCatalog) window.__hallsCatalog.stored = stored;
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
  onLangChange(() => { render(); refreshStorage(); });
  registerWorker();
  networkBadge(document.getElementById('network'), () => render());
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
  await refreshStorage();
  completion = (await fetchProgress()) || {};
  render();
  window.__hallsCatalog = { halls: catalog.halls.map((h) => h.id), rendered: list.children.length, stored };
  if (supported() && navigator.onLine) {
    const updated = await refreshKept({ onProgress: (hallId, p) => { keeping[hallId] = { ...p }; updateBox(hallId); } })
      .catch((error) => { console.warn('kept halls not brought up to date:', error.message); return []; });
    for (const hallId of updated) delete keeping[hallId];
    await refreshStorage();
  }
  window.__hallsCatalog.refreshed = true;
}

start();
