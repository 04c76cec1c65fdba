// WebXR, kept thin: an "Enter VR" button when immersive-vr is offered,
// controller lasers, teleport onto floors, snap turns, and a canvas panel
// for exhibits and checkpoint questions.  three.js drives the session.
import { BufferGeometry, Float32BufferAttribute, Line, LineBasicMaterial, Matrix4, Mesh, MeshBasicMaterial,
  Raycaster, RingGeometry, Vector3 } from 'three';
import { session } from './api.js';
import { mediaKind } from './dom.js';
import { onLangChange, pick, t } from './i18n.js';
import { XRPanel } from './xrpanel.js';

const SNAP = Math.PI / 6; // 30 degrees per snap turn
const LASER = 8;
const normal = new Vector3();
const matrix = new Matrix4();

export class XR {
  /** viewer: {renderer, scene, rig, camera, pickTargets(), exhibits, quiz, floorAt(point) -> bool, teleported()} */
  constructor(viewer, button) {
    this.viewer = viewer;
    this.button = button;
    this.supported = false;
    this.presenting = false;
    this.teleports = 0;
    this.turns = 0;
    this.selects = 0;
    this.panel = new XRPanel();
    this.panelContent = null;
    this.raycaster = new Raycaster();
    this.controllers = [];
    this.reticle = new Mesh(new RingGeometry(0.15, 0.22, 24).rotateX(-Math.PI / 2), new MeshBasicMaterial({ color: 0x44ddff }));
    this.reticle.visible = false;
    viewer.scene.add(this.panel.mesh, this.reticle);
    onLangChange(() => { this.label(); if (this.panelContent) this.refreshPanel(); });
  }

  async init() {
    if (!navigator.xr || !window.isSecureContext) return false;
    try {
      this.supported = await navigator.xr.isSessionSupported('immersive-vr');
    } catch {
      this.supported = false;
    }
    this.button.hidden = !this.supported;
    this.label();
    this.button.addEventListener('click', () => (this.presenting ? this.session?.end() : this.start()));
    return this.supported;
  }

  label() {
    this.button.textContent = this.presenting ? t('exitVR') : t('enterVR');
  }

  async start() {
    const { renderer } = this.viewer;
    const xrSession = await navigator.xr.requestSession('immersive-vr', { optionalFeatures: ['local-floor', 'bounded-floor'] });
    this.session = xrSession;
    renderer.xr.enabled = true;
    renderer.xr.setReferenceSpaceType('local-floor');
    this.setupControllers();
    await renderer.xr.setSession(xrSession);
    this.presenting = true;
    this.viewer.quiz.platform = 'headset';
    this.viewer.exhibits.platform = 'headset';
    this.label();
    xrSession.addEventListener('end', () => this.ended());
  }

  ended() {
    this.presenting = false;
    this.session = null;
    this.viewer.quiz.platform = 'browser';
    this.viewer.exhibits.platform = 'browser';
    this.closePanel();
    this.reticle.visible = false;
    this.viewer.xrEnded();
    this.label();
  }

  setupControllers() {
    if (this.controllers.length) return;
    const { renderer, rig } = this.viewer;
    for (let i = 0; i < 2; i++) {
      const controller = renderer.xr.getController(i);
      const laser = new Line(new BufferGeometry().setAttribute('position', new Float32BufferAttribute([0, 0, 0, 0, 0, -1], 3)),
        new LineBasicMaterial({ color: 0xff4444 }));
      laser.scale.z = LASER;
      laser.name = 'laser';
      controller.add(laser);
      controller.addEventListener('connected', (event) => { controller.userData.source = event.data; });
      controller.addEventListener('disconnected', () => { controller.userData.source = null; });
      controller.addEventListener('select', () => this.select(controller));
      rig.add(controller);
      this.controllers.push({ controller, laser, turned: false });
    }
  }

  /** Where a controller's laser hits: {hit, kind: 'panel' | 'exhibit' | 'floor' | 'other'} or null. */
  aim(controller) {
    controller.updateMatrixWorld(true);
    matrix.identity().extractRotation(controller.matrixWorld);
    this.raycaster.ray.origin.setFromMatrixPosition(controller.matrixWorld);
    this.raycaster.ray.direction.set(0, 0, -1).applyMatrix4(matrix).normalize();
    this.raycaster.far = 30;
    if (this.panel.mesh.visible) { // the panel is drawn over everything, so it takes the laser first
      const onPanel = this.raycaster.intersectObject(this.panel.mesh, false)[0];
      if (onPanel) return { hit: onPanel, kind: 'panel' };
    }
    const hit = this.raycaster.intersectObjects(this.viewer.pickTargets(), true)[0];
    if (!hit) return null;
    const exhibit = this.viewer.exhibits.exhibitOf(hit.object);
    if (exhibit) return { hit, kind: 'exhibit', exhibit };
    normal.copy(hit.face.normal).transformDirection(hit.object.matrixWorld);
    if (normal.y > 0.7 && this.viewer.floorAt(hit.point)) return { hit, kind: 'floor' };
    return { hit, kind: 'other' };
  }

  select(controller) {
    this.selects += 1;
    const aimed = this.aim(controller);
    if (!aimed) return;
    if (aimed.kind === 'panel') {
      const action = this.panel.hit(aimed.hit.uv);
      if (action) action();
    } else if (aimed.kind === 'exhibit') {
      this.openExhibit(aimed.exhibit);
    } else if (aimed.kind === 'floor') {
      this.teleport(aimed.hit.point);
    }
  }

  /** Move the rig so the head stands above `point` (three.js world coordinates). */
  teleport(point) {
    const { rig, camera } = this.viewer;
    const head = new Vector3();
    camera.getWorldPosition(head);
    rig.position.x += point.x - head.x;
    rig.position.z += point.z - head.z;
    rig.position.y = point.y;
    this.teleports += 1;
    this.viewer.teleported();
  }

  /** Turn the rig about the head by `angle` radians. */
  snapTurn(angle) {
    const { rig, camera } = this.viewer;
    const head = new Vector3();
    camera.getWorldPosition(head);
    rig.rotation.y += angle;
    rig.updateMatrixWorld(true);
    const after = new Vector3();
    camera.getWorldPosition(after);
    rig.position.x += head.x - after.x;
    rig.position.z += head.z - after.z;
    this.turns += 1;
  }

  /** Per frame while presenting: lasers, reticle, thumbstick snap turns. */
  update() {
    if (!this.presenting) return;
    this.reticle.visible = false;
    for (const entry of this.controllers) {
      const { controller, laser } = entry;
      const source = controller.userData.source;
      laser.visible = Boolean(source);
      if (!source) continue;
      const aimed = this.aim(controller);
      laser.scale.z = aimed ? aimed.hit.distance : LASER;
      if (aimed && aimed.kind === 'floor') {
        this.reticle.position.copy(aimed.hit.point).add(new Vector3(0, 0.01, 0));
        this.reticle.visible = true;
      }
      const axes = source.gamepad && source.gamepad.axes;
      const x = axes ? (axes.length >= 4 ? axes[2] : axes[0]) : 0;
      if (!entry.turned && Math.abs(x) > 0.7) {
        entry.turned = true;
        this.snapTurn(x > 0 ? -SNAP : SNAP);
      } else if (Math.abs(x) < 0.3) {
        entry.turned = false;
      }
    }
  }

  // --- the VR panel -------------------------------------------------------

  openExhibit(exhibit) {
    if (exhibit.kind === 'checkpoint') {
      this.viewer.quiz.open(exhibit);
      this.panelContent = { kind: 'quiz', index: 0 };
    } else {
      this.panelContent = { kind: 'exhibit', exhibit };
    }
    this.placePanel();
    this.refreshPanel();
  }

  openQuiz(checkpoint) {
    this.panelContent = { kind: 'quiz', index: 0, id: checkpoint.id };
    this.placePanel();
    this.refreshPanel();
  }

  closePanel() {
    this.panelContent?.audio?.pause();
    this.panelContent = null;
    this.panel.hide();
  }

  placePanel() {
    const { camera } = this.viewer;
    const head = new Vector3();
    const forward = new Vector3();
    camera.getWorldPosition(head);
    camera.getWorldDirection(forward);
    forward.y = 0;
    if (forward.lengthSq() < 1e-6) forward.set(0, 0, -1);
    forward.normalize();
    this.panel.mesh.position.copy(head).addScaledVector(forward, 1.3);
    this.panel.mesh.position.y = head.y - 0.15;
    this.panel.mesh.lookAt(head.x, this.panel.mesh.position.y, head.z);
  }

  refreshPanel() {
    const content = this.panelContent;
    if (!content) return;
    const close = { label: `× ${t('close')}`, action: () => this.closePanel() };
    if (content.kind === 'exhibit') {
      const e = content.exhibit;
      const track = (e.assets || []).find((a) => mediaKind(a.path || a.name) === 'audio');
      const buttons = [];
      if (track) {
        content.audio = content.audio || new Audio(track.url || `/objects/${track.name}`);
        const audio = content.audio;
        buttons.push({ label: audio.paused ? `▶ ${t('play')}` : `❚❚ ${t('pause')}`, action: () => {
          if (audio.paused) audio.play().catch(() => {}); else audio.pause();
          this.refreshPanel();
        } });
      }
      this.panel.show({ title: pick(e.title), text: pick(e.text), buttons: [...buttons, close] });
      return;
    }
    const quiz = this.viewer.quiz;
    const state = quiz.state;
    const checkpoint = state.checkpoint;
    if (!checkpoint) return this.closePanel();
    if (!state.signedIn && !session.get()) {
      this.panel.show({ title: pick(checkpoint.title), text: t('xrSignIn'), buttons: [close] });
      return;
    }
    if (state.result) {
      const r = state.result;
      const lines = [r.passed ? t('quizPassed') : t('quizFailed'), t('quizScore', { raw: r.score?.raw, max: r.score?.max })];
      if (r.hall_complete) lines.push(t('quizHallComplete'));
      const retry = !r.passed && (r.attempts_left ?? 1) > 0
        ? [{ label: t('quizRetry'), action: () => { quiz.retry(); content.index = 0; this.refreshPanel(); } }] : [];
      this.panel.show({ title: pick(checkpoint.title), text: lines.join('\n'), buttons: [...retry, close] });
      return;
    }
    const questions = checkpoint.questions;
    const index = Math.min(content.index, questions.length - 1);
    const q = questions[index];
    const answer = state.answers[q.id];
    const options = q.type === 'true-false'
      ? [{ id: true, label: t('quizTrue') }, { id: false, label: t('quizFalse') }]
      : q.options.map((o) => ({ id: o.id, label: `${o.id}. ${pick(o.text)}` }));
    const buttons = options.map((o) => ({
      label: o.label,
      selected: q.type === 'multiple' ? (answer || []).includes(o.id) : answer === o.id,
      action: () => { quiz.choose(q, o.id); this.refreshPanel(); },
    }));
    const last = index === questions.length - 1;
    buttons.push({
      label: last ? (state.sending ? t('quizSending') : t('quizSubmit')) : t('xrNext'),
      action: async () => {
        if (!last) { content.index += 1; this.refreshPanel(); return; }
        await quiz.submit();
        this.refreshPanel();
      },
    });
    const text = `${index + 1}/${questions.length} ${pick(q.prompt)}${state.error ? `\n${state.error}` : ''}`;
    this.panel.show({ title: pick(checkpoint.title), text, buttons });
  }
}
