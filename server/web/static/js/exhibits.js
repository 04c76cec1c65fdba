// Exhibits: a panel opens when a member walks up to one (facing it) or clicks
// it; dioramas narrate when the member enters their area; checkpoints open
// their quiz on entering the trigger circle.  Text is set with textContent.
import { experienced } from './api.js';
import { el, mediaKind, paragraphs, replace } from './dom.js';
import { onLangChange, pick, t } from './i18n.js';

const FACING = 0.35; // cos of the widest angle at which walking up opens a panel
const CLICK_KEEP = 3; // metres beyond the radius a clicked panel stays open

export class Exhibits {
  constructor({ panel, caption, hint, onCheckpoint, settings, hallId }) {
    this.hallId = hallId;
    this.platform = 'browser';
    this.entered = new Map(); // diorama id -> time the member stepped in
    this.panelNode = panel;
    this.captionNode = caption;
    this.hintNode = hint;
    this.onCheckpoint = onCheckpoint;
    this.settings = settings;
    this.byId = new Map();
    this.byNode = new Map();
    this.checkpoints = [];
    this.open = null; // {exhibit, how: 'near' | 'click'}
    this.inside = new Set(); // diorama and checkpoint ids the member stands in
    this.narrating = null;
    this.audio = null;
    onLangChange(() => {
      if (this.open) this.show(this.open.exhibit, this.open.how, false);
      if (this.narrating) this.narrate(this.narrating, false);
    });
  }

  setManifest(manifest) {
    this.byId = new Map(manifest.exhibits.map((e) => [e.id, e]));
    this.byNode = new Map(manifest.exhibits.map((e) => [e.node, e]));
    this.checkpoints = manifest.checkpoints || [];
    if (this.open) {
      const fresh = this.byId.get(this.open.exhibit.id);
      if (fresh) this.show(fresh, this.open.how, false);
      else this.close();
    }
  }

  /** The exhibit a scene object belongs to (walks up to the node named in the manifest). */
  exhibitOf(object) {
    for (let node = object; node; node = node.parent) {
      const name = node.userData && node.userData.name;
      if (name && this.byNode.has(name)) return this.byNode.get(name);
      if (name) {
        const checkpoint = this.checkpoints.find((c) => name === `${c.room}/exhibit/${c.id}`);
        if (checkpoint) return { ...checkpoint, kind: 'checkpoint' };
      }
    }
    return null;
  }

  /** Each frame: hall position [x, y, z] and facing unit vector [fx, fy]. */
  update(position, facing) {
    const near = this.nearest(position, facing);
    if (this.hintNode) {
      const hint = near && (!this.open || this.open.exhibit.id !== near.id) ? t('nearHint', { title: pick(near.title) }) : '';
      if (this.hintNode.textContent !== hint) this.hintNode.textContent = hint;
    }
    if (this.open) {
      const { exhibit, how } = this.open;
      const keep = exhibit.radius + (how === 'click' ? CLICK_KEEP : 0.5);
      if (distance(position, exhibit.position) > keep) this.close();
    }
    if (near && (!this.open || (this.open.how === 'near' && this.open.exhibit.id !== near.id))) this.show(near, 'near');
    for (const exhibit of this.byId.values()) {
      if (exhibit.kind !== 'diorama') continue;
      this.zone(exhibit, position, () => {
        this.entered.set(exhibit.id, performance.now());
        this.narrate(exhibit);
      }, () => this.leftDiorama(exhibit));
    }
    for (const checkpoint of this.checkpoints) this.zone(checkpoint, position, () => this.onCheckpoint(checkpoint));
  }

  // Fire `enter` once when the member steps into the circle; `leave` and re-arm after leaving it.
  zone(item, position, enter, leave) {
    const d = distance(position, item.position);
    const key = `${item.kind || 'checkpoint'}:${item.id}`;
    if (d <= item.radius && !this.inside.has(key)) {
      this.inside.add(key);
      enter();
    } else if (d > item.radius + 0.5 && this.inside.has(key)) {
      this.inside.delete(key);
      if (leave) leave();
    }
  }

  /** Time spent in a diorama area goes to the learning records. */
  leftDiorama(exhibit) {
    const since = this.entered.get(exhibit.id);
    this.entered.delete(exhibit.id);
    if (since !== undefined) experienced(this.hallId, exhibit.id, (performance.now() - since) / 1000, this.platform);
  }

  nearest(position, facing) {
    let best = null;
    let bestDistance = Infinity;
    for (const exhibit of this.byId.values()) {
      if (exhibit.kind === 'diorama') continue;
      const dx = exhibit.position[0] - position[0];
      const dy = exhibit.position[1] - position[1];
      const d = Math.hypot(dx, dy);
      if (d > exhibit.radius || d >= bestDistance) continue;
      if (d > 0.3 && (dx * facing[0] + dy * facing[1]) / d < FACING) continue;
      best = exhibit;
      bestDistance = d;
    }
    return best;
  }

  /** Open the panel of `exhibit` ('near' from walking up, 'click' from a click or key). */
  show(exhibit, how = 'click', focus = how === 'click') {
    if (exhibit.kind === 'checkpoint') {
      this.onCheckpoint(exhibit);
      return;
    }
    const sameAudio = this.open && this.open.exhibit.id === exhibit.id && this.audio;
    this.open = { exhibit, how };
    const close = el('button', { type: 'button', class: 'close', 'aria-label': t('close'), title: t('close'), text: '×', onclick: () => this.close() });
    const media = [];
    for (const asset of exhibit.assets || []) {
      const kind = mediaKind(asset.path || asset.name);
      const url = asset.url || `/objects/${asset.name}`;
      if (kind === 'image') media.push(el('img', { src: url, alt: pick(exhibit.title), class: 'exhibit-image' }));
      else if (kind === 'video') media.push(el('video', { src: url, controls: true, preload: 'metadata', class: 'exhibit-video' }));
      else if (kind === 'audio') media.push(this.audioControls(url, sameAudio));
    }
    replace(this.panelNode,
      el('div', { class: 'panel-head' }, el('h2', { id: 'panel-title', text: pick(exhibit.title) }), close),
      media,
      el('div', { class: 'panel-text' }, paragraphs(pick(exhibit.text))));
    this.panelNode.dataset.exhibit = exhibit.id;
    this.panelNode.hidden = false;
    if (focus) close.focus({ preventScroll: true });
  }

  audioControls(url, keep) {
    if (!keep) {
      this.stopAudio();
      this.audio = new Audio(url);
      this.audio.preload = 'metadata';
    }
    const audio = this.audio;
    const button = el('button', { type: 'button', class: 'play' });
    const label = () => { button.textContent = audio.paused ? `▶ ${t('play')}` : `❚❚ ${t('pause')}`; };
    button.addEventListener('click', () => {
      if (audio.paused) audio.play().catch(() => {});
      else audio.pause();
    });
    audio.onplay = label;
    audio.onpause = label;
    audio.onended = label;
    label();
    return el('div', { class: 'audio' }, button);
  }

  stopAudio() {
    if (this.audio) this.audio.pause();
    this.audio = null;
  }

  close() {
    this.stopAudio();
    this.open = null;
    this.panelNode.hidden = true;
    this.panelNode.replaceChildren();
    delete this.panelNode.dataset.exhibit;
  }

  /** Diorama narration: a caption, its audio if it has one, else speech when enabled. */
  narrate(exhibit, speak = true) {
    this.narrating = exhibit;
    const text = pick(exhibit.text);
    const close = el('button', { type: 'button', class: 'close', 'aria-label': t('close'), text: '×', onclick: () => this.endNarration() });
    replace(this.captionNode, el('div', { class: 'panel-head' },
      el('strong', { text: `${t('narration')} · ${pick(exhibit.title)}` }), close), el('p', { text }));
    this.captionNode.hidden = false;
    this.captionNode.dataset.exhibit = exhibit.id;
    if (!speak) return;
    const audio = (exhibit.assets || []).find((a) => mediaKind(a.path || a.name) === 'audio');
    if (audio) {
      this.narrationAudio?.pause();
      this.narrationAudio = new Audio(audio.url || `/objects/${audio.name}`);
      this.narrationAudio.play().catch(() => {});
    } else if (this.settings.voice && window.speechSynthesis && window.SpeechSynthesisUtterance) {
      try {
        speechSynthesis.cancel();
        const utterance = new SpeechSynthesisUtterance(text);
        utterance.lang = text === exhibit.text?.en ? 'en-US' : 'zh-CN';
        speechSynthesis.speak(utterance);
      } catch { /* no speech on this device */ }
    }
    clearTimeout(this.captionTimer);
    this.captionTimer = setTimeout(() => this.endNarration(), Math.max(12000, text.length * 250));
  }

  endNarration() {
    this.narrating = null;
    this.narrationAudio?.pause();
    if (window.speechSynthesis) try { speechSynthesis.cancel(); } catch { /* ignore */ }
    this.captionNode.hidden = true;
    delete this.captionNode.dataset.exhibit;
  }
}

function distance(a, b) {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}
