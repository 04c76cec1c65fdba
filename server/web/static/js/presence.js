// The hub connection (WebSocket /ws/halls/{id}): join, send poses, receive
// pose batches, roster changes, tour cues and live-reload notices.
// Protocol: halls_contract/hub.py; its numbers and names come from contract.js.
import {
  BATCH_COUNT_OFFSET, BATCH_HEADER_BYTES, BATCH_KIND_POSES, MESSAGE, POSE_INTERVAL_MS, POSE_KEEPALIVE_MS, POSE_OFFSET,
  POSE_RECORD_BYTES, POSITION_SCALE, PROTOCOL_VERSION, QUATERNION_SCALE,
} from './contract.js';

const POSITION = ['x', 'y', 'z'].map((field) => POSE_OFFSET[field]);
const QUATERNION = ['qx', 'qy', 'qz', 'qw'].map((field) => POSE_OFFSET[field]);

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
      const join = { v: PROTOCOL_VERSION, type: MESSAGE.JOIN, name, role: role || 'member' };
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
      case MESSAGE.WELCOME:
        this.me = message;
        this.retry = 1000;
        this.lastPose = null;
        h.status?.(true);
        h.welcome?.(message);
        break;
      case MESSAGE.JOINED: h.joined?.(message.members); break;
      case MESSAGE.LEFT: h.left?.(message.ids); break;
      case MESSAGE.TOUR: h.tour?.(message); break;
      case MESSAGE.RELOAD: h.reload?.(message); break;
      case MESSAGE.BUILD_ERROR: h.buildError?.(message); break;
      case MESSAGE.ERROR: h.error?.(message); break;
      default: break;
    }
  }

  batch(buffer) {
    const view = new DataView(buffer);
    if (view.byteLength < BATCH_HEADER_BYTES || view.getUint8(0) !== BATCH_KIND_POSES) return;
    const count = view.getUint16(BATCH_COUNT_OFFSET, true);
    const records = [];
    for (let i = 0; i < count; i++) {
      const o = BATCH_HEADER_BYTES + i * POSE_RECORD_BYTES;
      if (o + POSE_RECORD_BYTES > view.byteLength) break;
      records.push({
        id: view.getUint32(o + POSE_OFFSET.id, true),
        position: POSITION.map((at) => view.getInt32(o + at, true) / POSITION_SCALE),
        quaternion: QUATERNION.map((at) => view.getInt16(o + at, true) / QUATERNION_SCALE),
        room: view.getUint16(o + POSE_OFFSET.room, true),
        flags: view.getUint16(o + POSE_OFFSET.flags, true),
      });
    }
    this.handlers.poses?.(records);
  }

  /** Send our pose when it changed (every POSE_INTERVAL_MS at most) or as a keep-alive. */
  pose(room, position, quaternion, now = performance.now()) {
    if (!this.me || !room || this.ws.readyState !== WebSocket.OPEN) return;
    const last = this.lastPose;
    const moved = !last || Math.hypot(position[0] - last.p[0], position[1] - last.p[1], position[2] - last.p[2]) > 0.02
      || Math.abs(quaternion[2] - last.q[2]) + Math.abs(quaternion[3] - last.q[3]) + Math.abs(quaternion[0] - last.q[0]) > 0.005
      || room !== last.room;
    const wait = moved ? POSE_INTERVAL_MS : POSE_KEEPALIVE_MS;
    if (now - this.lastSent < wait) return;
    const round = (v) => Math.round(v * 1000) / 1000;
    this.send({ type: MESSAGE.POSE, room, p: position.map(round), q: quaternion.map((v) => Math.round(v * 10000) / 10000) });
    this.lastPose = { room, p: position, q: quaternion };
    this.lastSent = now;
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, ...message }));
  }
}
