// The room list (keyboard-friendly jumps and exits to other halls) and a
// minimap of the hall's rooms with the member, others and exhibits.
import { el, replace } from './dom.js';
import { onLangChange, pick, t } from './i18n.js';

export class RoomList {
  /** onJump(roomId); hallTitle(id) -> title text */
  constructor(node, { onJump, hallTitle }) {
    this.node = node;
    this.onJump = onJump;
    this.hallTitle = hallTitle;
    this.manifest = null;
    onLangChange(() => this.render());
  }

  setManifest(manifest) {
    this.manifest = manifest;
    this.render();
  }

  render() {
    const m = this.manifest;
    if (!m) return;
    const rooms = m.rooms.map((room) => el('li', {},
      el('button', { type: 'button', dataset: { room: room.id }, text: pick(room.title) || room.id,
        'aria-label': t('goRoom', { room: pick(room.title) || room.id }), onclick: () => this.onJump(room.id) })));
    const exits = (m.doorways || []).filter((d) => d.to_hall).map((door) => el('li', {},
      el('a', { href: `/halls/${encodeURIComponent(door.to_hall)}`, dataset: { hall: door.to_hall },
        text: t('goHall', { hall: this.hallTitle(door.to_hall) }) })));
    replace(this.node, el('h2', { text: t('roomListTitle') }), el('ul', { class: 'rooms' }, rooms),
      exits.length ? el('ul', { class: 'exits' }, exits) : null);
  }

  toggle(show = this.node.hidden) {
    this.node.hidden = !show;
    if (show) this.node.querySelector('button, a')?.focus();
  }
}

export class Minimap {
  constructor(canvas, { onJump }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.onJump = onJump;
    this.manifest = null;
    canvas.addEventListener('click', (event) => {
      const room = this.roomAtPixel(event.offsetX, event.offsetY);
      if (room) this.onJump(room.id);
    });
  }

  setManifest(manifest) {
    this.manifest = manifest;
    let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
    for (const room of manifest.rooms) {
      x0 = Math.min(x0, room.bounds.min[0]); y0 = Math.min(y0, room.bounds.min[1]);
      x1 = Math.max(x1, room.bounds.max[0]); y1 = Math.max(y1, room.bounds.max[1]);
    }
    const pad = 1;
    const w = this.canvas.width;
    const h = this.canvas.height;
    const scale = Math.min(w / (x1 - x0 + 2 * pad), h / (y1 - y0 + 2 * pad));
    const ox = (w - (x1 - x0) * scale) / 2;
    const oy = (h - (y1 - y0) * scale) / 2;
    this.map = {
      x: (x) => ox + (x - x0) * scale,
      y: (y) => h - (oy + (y - y0) * scale),
      inverse: (px, py) => [x0 + (px - ox) / scale, y0 + (h - py - oy) / scale],
      scale,
    };
  }

  roomAtPixel(px, py) {
    if (!this.manifest) return null;
    const [x, y] = this.map.inverse(px * (this.canvas.width / this.canvas.clientWidth), py * (this.canvas.height / this.canvas.clientHeight));
    return this.manifest.rooms.find((r) => x >= r.bounds.min[0] && x <= r.bounds.max[0] && y >= r.bounds.min[1] && y <= r.bounds.max[1]);
  }

  /** me: {position, heading (radians, CCW from north)}; others: [[x, y]] */
  draw(me, others) {
    const { ctx, canvas, manifest, map } = this;
    if (!manifest) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = 'rgba(0,0,0,0.45)';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (const room of manifest.rooms) {
      const x = map.x(room.bounds.min[0]);
      const y = map.y(room.bounds.max[1]);
      ctx.fillStyle = room.id === me.room ? 'rgba(255,236,179,0.35)' : 'rgba(255,255,255,0.12)';
      ctx.strokeStyle = '#eee';
      ctx.lineWidth = 1;
      ctx.fillRect(x, y, (room.bounds.max[0] - room.bounds.min[0]) * map.scale, (room.bounds.max[1] - room.bounds.min[1]) * map.scale);
      ctx.strokeRect(x, y, (room.bounds.max[0] - room.bounds.min[0]) * map.scale, (room.bounds.max[1] - room.bounds.min[1]) * map.scale);
    }
    ctx.fillStyle = '#f2c14e';
    for (const exhibit of manifest.exhibits) ctx.fillRect(map.x(exhibit.position[0]) - 1, map.y(exhibit.position[1]) - 1, 2, 2);
    ctx.fillStyle = '#6cf';
    for (const [x, y] of others) {
      ctx.beginPath();
      ctx.arc(map.x(x), map.y(y), 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
    const px = map.x(me.position[0]);
    const py = map.y(me.position[1]);
    const a = me.heading;
    ctx.fillStyle = '#ff5252';
    ctx.beginPath();
    ctx.moveTo(px - Math.sin(a) * 7, py - Math.cos(a) * 7);
    ctx.lineTo(px + Math.cos(a) * 4, py - Math.sin(a) * 4);
    ctx.lineTo(px - Math.cos(a) * 4, py + Math.sin(a) * 4);
    ctx.closePath();
    ctx.fill();
  }
}
