// Desktop and phone input: keys, mouse-look (pointer lock or drag), a touch
// joystick and drag-to-look.  It only records intent; the walker moves.
import { typingInField } from './dom.js';

const LOOK_SPEED = 0.0025; // radians per pixel
const TOUCH_LOOK_SPEED = 0.005;
const TAP_SLOP = 6; // pixels a click may move and still count as a click

export class Input {
  /** canvas: the view; joystick: {base, knob} elements; handlers: {pick(x, y) -> opened?, key(code, event)} */
  constructor(canvas, joystick, handlers) {
    this.canvas = canvas;
    this.handlers = handlers;
    this.keys = new Set();
    this.look = { yaw: 0, pitch: 0 };
    this.stick = { x: 0, y: 0 };
    this.enabled = true;
    this.pointers = new Map();
    this.bindKeys();
    this.bindPointer();
    this.bindJoystick(joystick);
  }

  /** Movement intent: forward/right in [-1, 1], up for flying, turn in [-1, 1]. */
  axes() {
    const k = this.keys;
    const on = (...names) => names.some((name) => k.has(name));
    let forward = (on('KeyW', 'ArrowUp') ? 1 : 0) - (on('KeyS', 'ArrowDown') ? 1 : 0);
    let right = (on('KeyD') ? 1 : 0) - (on('KeyA') ? 1 : 0);
    forward += -this.stick.y;
    right += this.stick.x;
    return {
      forward: Math.max(-1, Math.min(1, forward)),
      right: Math.max(-1, Math.min(1, right)),
      up: (on('Space', 'PageUp') ? 1 : 0) - (on('KeyC', 'PageDown') ? 1 : 0),
      turn: (on('ArrowLeft') ? 1 : 0) - (on('ArrowRight') ? 1 : 0),
      run: on('ShiftLeft', 'ShiftRight'),
    };
  }

  /** Look change since the last call (radians). */
  takeLook() {
    const look = this.look;
    this.look = { yaw: 0, pitch: 0 };
    return look;
  }

  bindKeys() {
    window.addEventListener('keydown', (event) => {
      if (!this.enabled || typingInField(event) || event.ctrlKey || event.metaKey || event.altKey) return;
      const movement = ['KeyW', 'KeyA', 'KeyS', 'KeyD', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight',
        'PageUp', 'PageDown', 'KeyC', 'ShiftLeft', 'ShiftRight'];
      const onButton = event.target instanceof Element && event.target.closest('button, a, summary');
      if (event.code === 'Space' && onButton) return; // Space presses the focused button
      if (movement.includes(event.code) || event.code === 'Space') {
        this.keys.add(event.code);
        if (event.code.startsWith('Arrow') || event.code === 'Space' || event.code.startsWith('Page')) event.preventDefault();
        if (!event.repeat && (event.code === 'ArrowLeft' || event.code === 'ArrowRight')) {
          this.handlers.key('turn-press', event);
        }
        return;
      }
      if (!event.repeat) this.handlers.key(event.code, event);
    });
    window.addEventListener('keyup', (event) => this.keys.delete(event.code));
    window.addEventListener('blur', () => this.keys.clear());
  }

  bindPointer() {
    const canvas = this.canvas;
    document.addEventListener('mousemove', (event) => {
      if (document.pointerLockElement === canvas) {
        this.look.yaw -= event.movementX * LOOK_SPEED;
        this.look.pitch -= event.movementY * LOOK_SPEED;
      }
    });
    canvas.addEventListener('pointerdown', (event) => {
      if (!this.enabled) return;
      canvas.focus({ preventScroll: true });
      this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY, startX: event.clientX, startY: event.clientY, moved: 0 });
      capture(canvas, event.pointerId);
    });
    canvas.addEventListener('pointermove', (event) => {
      const p = this.pointers.get(event.pointerId);
      if (!p || document.pointerLockElement === canvas) return;
      const speed = event.pointerType === 'touch' ? TOUCH_LOOK_SPEED : LOOK_SPEED;
      this.look.yaw += (event.clientX - p.x) * speed;
      this.look.pitch += (event.clientY - p.y) * speed;
      p.moved = Math.max(p.moved, Math.hypot(event.clientX - p.startX, event.clientY - p.startY));
      p.x = event.clientX;
      p.y = event.clientY;
    });
    const end = (event) => {
      const p = this.pointers.get(event.pointerId);
      this.pointers.delete(event.pointerId);
      if (!p || event.type === 'pointercancel' || p.moved > TAP_SLOP) return;
      const locked = document.pointerLockElement === canvas;
      const rect = canvas.getBoundingClientRect();
      const x = locked ? 0 : ((event.clientX - rect.left) / rect.width) * 2 - 1;
      const y = locked ? 0 : -(((event.clientY - rect.top) / rect.height) * 2 - 1);
      const picked = this.handlers.pick(x, y);
      if (!picked && !locked && event.pointerType === 'mouse') {
        canvas.requestPointerLock?.()?.catch?.(() => {});
      }
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  bindJoystick({ base, knob }) {
    if (!base) return;
    let active = null;
    const radius = () => base.clientWidth / 2 || 50;
    const move = (event) => {
      const rect = base.getBoundingClientRect();
      const r = radius();
      let x = (event.clientX - rect.left - r) / r;
      let y = (event.clientY - rect.top - r) / r;
      const length = Math.hypot(x, y);
      if (length > 1) { x /= length; y /= length; }
      this.stick = { x, y };
      knob.style.transform = `translate(${x * r * 0.6}px, ${y * r * 0.6}px)`;
    };
    base.addEventListener('pointerdown', (event) => {
      active = event.pointerId;
      capture(base, event.pointerId);
      move(event);
      event.preventDefault();
    });
    base.addEventListener('pointermove', (event) => { if (event.pointerId === active) move(event); });
    const release = (event) => {
      if (event.pointerId !== active) return;
      active = null;
      this.stick = { x: 0, y: 0 };
      knob.style.transform = '';
    };
    base.addEventListener('pointerup', release);
    base.addEventListener('pointercancel', release);
    window.addEventListener('touchstart', () => document.body.classList.add('touch'), { once: true, passive: true });
  }
}

// Keep receiving a pointer's moves outside the element (not possible for every pointer: then do without).
function capture(node, pointerId) {
  try {
    node.setPointerCapture(pointerId);
  } catch { /* not an active pointer */ }
}
