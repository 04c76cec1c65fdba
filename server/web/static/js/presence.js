// The hub connection (WebSocket /ws/halls/{id}): join, send poses, receive
// pose batches, roster changes, tour cues and live-reload notices.
// Protocol: server/hub/messages.py.

const RECORD = 32;
const HEADER = 8;
const POSE_INTERVAL = 100; // ms between poses while moving (10 Hz)
const KEEPALIVE = 2000; // ms between poses while standing still

export class Presence {
  /** handlers: welcome, joined, left, poses(records), tour, reload, buildError, error, status(connected) */
  constructor(hallId, identity, handlers) {
    this.hallId = hallId;
    this.identity = identity; // {name, role, key}
    this.handlers = handlers;
    this.ws = null;
    this.me = null;
    this.lastPose = null;
    this.lastSent = 0;
    this.retry = 1000;
    this.closed = false;
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws/halls/${encodeURIComponent(this.hallId)}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      // A session token names the member and role (trainer accounts); else a name and maybe the trainer key.
      const { name, role, key, token } = this.identity;
      const join = { v: 1, type: 'join', name, role: role || 'member' };
      if (token) join.token = token;
      if (key) join.key = key;
      ws.send(JSON.stringify(join));
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') this.text(JSON.parse(event.data));
      else this.batch(event.data);
    };
    ws.onclose = (event) => {
      if (!this.me && this.identity.token) {
        // refused before a welcome with a session token (expired, or no accounts here): join as a guest next time
        this.identity = { ...this.identity, token: undefined };
      }
      this.me = null;
      this.handlers.status?.(false, event);
      if (this.closed) return;
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 30000);
    };
  }

  close() {
    this.closed = true;
    this.ws?.close(1000);
  }

  text(message) {
    const h = this.handlers;
    switch (message.type) {
      case 'welcome':
        this.me = message;
        this.retry = 1000;
        this.lastPose = null;
        h.status?.(true);
        h.welcome?.(message);
        break;
      case 'joined': h.joined?.(message.members); break;
      case 'left': h.left?.(message.ids); break;
      case 'tour': h.tour?.(message); break;
      case 'reload': h.reload?.(message); break;
      case 'build-error': h.buildError?.(message); break;
      case 'error': h.error?.(message); break;
      default: break;
    }
  }

  batch(buffer) {
    const view = new DataView(buffer);
    if (view.byteLength < HEADER || view.getUint8(0) !== 1) return;
    const count = view.getUint16(2, true);
    const records = [];
    for (let i = 0; i < count; i++) {
      const o = HEADER + i * RECORD;
      if (o + RECORD > view.byteLength) break;
      records.push({
        id: view.getUint32(o, true),
        position: [view.getInt32(o + 8, true) / 100, view.getInt32(o + 12, true) / 100, view.getInt32(o + 16, true) / 100],
        quaternion: [0, 1, 2, 3].map((k) => view.getInt16(o + 20 + 2 * k, true) / 32767),
        room: view.getUint16(o + 28, true),
        flags: view.getUint16(o + 30, true),
      });
    }
    this.handlers.poses?.(records);
  }

  /** Send our pose when it changed (at most 10 Hz) or as a keep-alive. */
  pose(room, position, quaternion, now = performance.now()) {
    if (!this.me || !room || this.ws.readyState !== WebSocket.OPEN) return;
    const last = this.lastPose;
    const moved = !last || Math.hypot(position[0] - last.p[0], position[1] - last.p[1], position[2] - last.p[2]) > 0.02
      || Math.abs(quaternion[2] - last.q[2]) + Math.abs(quaternion[3] - last.q[3]) + Math.abs(quaternion[0] - last.q[0]) > 0.005
      || room !== last.room;
    const wait = moved ? POSE_INTERVAL : KEEPALIVE;
    if (now - this.lastSent < wait) return;
    const round = (v) => Math.round(v * 1000) / 1000;
    this.send({ type: 'pose', room, p: position.map(round), q: quaternion.map((v) => Math.round(v * 10000) / 10000) });
    this.lastPose = { room, p: position, q: quaternion };
    this.lastSent = now;
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: 1, ...message }));
  }
}
