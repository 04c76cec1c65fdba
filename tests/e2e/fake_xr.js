// A scripted WebXR device for headless Chromium (which has no immersive-vr):
// navigator.xr offers immersive-vr, sessions render through an XRWebGLLayer
// stand-in to the canvas, the head stands still at 1.6 m, and one controller
// can be connected, aimed, pressed (select) and pushed sideways (thumbstick).
// Driven from tests through window.__fakeXR.
(() => {
  const rigid = (position = [0, 0, 0], orientation = [0, 0, 0, 1]) => {
    const [x, y, z, w] = orientation;
    const m = new Float32Array([
      1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w), 0,
      2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w), 0,
      2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y), 0,
      position[0], position[1], position[2], 1,
    ]);
    return {
      position: { x: position[0], y: position[1], z: position[2], w: 1 },
      orientation: { x, y, z, w },
      matrix: m,
    };
  };
  const perspective = (fov, aspect, near, far) => {
    const f = 1 / Math.tan(fov / 2);
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1, 0, 0, (2 * far * near) / (near - far), 0]);
  };

  class FakeSession extends EventTarget {
    constructor() {
      super();
      this.renderState = { baseLayer: null, depthNear: 0.1, depthFar: 1000, inlineVerticalFieldOfView: null };
      this.inputSources = [];
      this.enabledFeatures = ['local-floor'];
      this.visibilityState = 'visible';
      this.environmentBlendMode = 'opaque';
      this.ended = false;
      this.frames = 0;
      this.head = rigid([0, 1.6, 0]);
      this.frame = {
        session: this,
        getViewerPose: () => {
          const layer = this.renderState.baseLayer;
          const aspect = layer ? layer.framebufferWidth / 2 / layer.framebufferHeight : 1;
          const projection = perspective(Math.PI / 2, aspect, this.renderState.depthNear, this.renderState.depthFar);
          return {
            transform: this.head,
            emulatedPosition: false,
            views: ['left', 'right'].map((eye) => ({ eye, projectionMatrix: projection, transform: this.head })),
          };
        },
        getPose: (space) => (space && space.pose ? { transform: space.pose, emulatedPosition: false } : null),
      };
    }

    updateRenderState(state) { Object.assign(this.renderState, state); }

    async requestReferenceSpace() {
      return { pose: rigid(), getOffsetReferenceSpace() { return this; } };
    }

    requestAnimationFrame(callback) {
      return window.requestAnimationFrame((time) => {
        if (this.ended) return;
        this.frames += 1;
        callback(time, this.frame);
      });
    }

    cancelAnimationFrame(id) { window.cancelAnimationFrame(id); }

    async end() {
      this.ended = true;
      this.dispatchEvent(new Event('end'));
    }
  }

  class FakeLayer {
    constructor(session, gl) {
      this.framebuffer = null; // null: draw to the canvas itself
      this.framebufferWidth = gl.drawingBufferWidth;
      this.framebufferHeight = gl.drawingBufferHeight;
      this.ignoreDepthValues = true;
      this.antialias = false;
    }

    getViewport(view) {
      const half = this.framebufferWidth / 2;
      return { x: view.eye === 'right' ? half : 0, y: 0, width: half, height: this.framebufferHeight };
    }
  }

  const fake = {
    session: null,
    requests: 0,
    source: {
      handedness: 'right',
      targetRayMode: 'tracked-pointer',
      targetRaySpace: { pose: rigid([0.2, 1.3, -0.2]) },
      gripSpace: undefined,
      profiles: ['generic-trigger-squeeze-thumbstick'],
      gamepad: { axes: [0, 0, 0, 0], buttons: [] },
    },
    connect() {
      const session = this.session;
      session.inputSources = [this.source];
      const event = new Event('inputsourceschange');
      Object.assign(event, { session, added: [this.source], removed: [] });
      session.dispatchEvent(event);
    },
    /** Point the controller: pitch in degrees (negative = down), yaw in degrees (positive = left). */
    aim(pitch, yaw = 0, position = [0.2, 1.3, -0.2]) {
      const p = (pitch * Math.PI) / 360;
      const y = (yaw * Math.PI) / 360;
      // yaw about Y, then pitch about X: q = qy * qx
      const q = [Math.cos(y) * Math.sin(p), Math.sin(y) * Math.cos(p), -Math.sin(y) * Math.sin(p), Math.cos(y) * Math.cos(p)];
      this.source.targetRaySpace.pose = rigid(position, q);
    },
    select() {
      for (const type of ['selectstart', 'select', 'selectend']) {
        const event = new Event(type);
        Object.assign(event, { inputSource: this.source, frame: this.session.frame });
        this.session.dispatchEvent(event);
      }
    },
    stick(x) { this.source.gamepad.axes = [0, 0, x, 0]; },
  };

  Object.defineProperty(navigator, 'xr', {
    configurable: true,
    value: {
      isSessionSupported: async (mode) => mode === 'immersive-vr',
      requestSession: async (mode) => {
        if (mode !== 'immersive-vr') throw new DOMException('unsupported', 'NotSupportedError');
        fake.requests += 1;
        fake.session = new FakeSession();
        return fake.session;
      },
      addEventListener() {},
      removeEventListener() {},
    },
  });
  Object.defineProperty(window, 'XRWebGLLayer', { configurable: true, writable: true, value: FakeLayer });
  Object.defineProperty(window, 'XRWebGLBinding', { configurable: true, writable: true, value: undefined });
  for (const gl of [window.WebGLRenderingContext, window.WebGL2RenderingContext]) {
    if (gl) gl.prototype.makeXRCompatible = () => Promise.resolve();
  }
  window.__fakeXR = fake;
})();
