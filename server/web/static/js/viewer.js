// The hall viewer: streams the hall, walks (or flies) through it with
// collision, opens exhibits and quizzes, shows other members and tours,
// swaps rebuilt chunks live, and offers WebXR on headsets.
import {
  Color, DirectionalLight, Group, HemisphereLight, PerspectiveCamera, Quaternion, Raycaster, Scene, Timer, Vector2, Vector3,
  WebGLRenderer,
} from 'three';
import { checkManifest, halls as fetchCatalog, manifest as fetchManifest, session } from './api.js';
import { Avatars } from './avatars.js';
import { BODY_RADIUS, DEFAULT_LIGHT, EYE_HEIGHT, STEP_UP, TOUR_EVENT } from './contract.js';
import { headingToYaw, quaternionToHall, toHall, toThree, yawToHeading, yawToward } from './coords.js';
import { el, replace } from './dom.js';
import { Exhibits } from './exhibits.js';
import { applyStatic, bindLanguageButton, onLangChange, pick, t } from './i18n.js';
import { Input } from './input.js';
import { Presence } from './presence.js';
import { Quiz } from './quiz.js';
import { networkBadge, registerWorker, rememberVisit } from './offline.js';
import { Minimap, RoomList } from './rooms.js';
import { loadSettings, saveSettings } from './settings.js';
import { signInForm } from './signin.js';
import { ChunkStreamer } from './stream.js';
import { Tour } from './tour.js';
import { buildWalls, collide, portalCrossed, roomAt, WALL } from './walls.js';
import { XR } from './xr.js';

const WALK = 1.6; // metres per second
const RUN = 3.2;
const FLY = 4;
const TURN = 1.8; // radians per second
const SNAP = Math.PI / 6;
const MAX_DROP = 0.7; // deepest drop a walker steps down (no falling off dioramas)
const PITCH_LIMIT = 1.4;
const TRAVEL_SECONDS = 1.2;
const $ = (id) => document.getElementById(id);

class Viewer {
  constructor(hallId) {
    this.hallId = hallId;
    this.settings = loadSettings();
    this.manifest = null;
    this.walls = { segments: [], portals: [], rooms: [] };
    this.frames = 0;
    this.firstFrameMs = null;
    this.loadedMs = null;
    this.stored = null;
    this.firstFrameBytes = null;
    this.reloads = 0;
    this.fly = false;
    this.travel = null;
    this.leaving = false;
    this.room = null;
    this.hallTitles = {};
    this.error = null;
  }

  async start() {
    performance.mark('halls:start');
    applyStatic();
    bindLanguageButton($('lang'));
    networkBadge($('network'));
    registerWorker();
    this.setupScene();
    this.setupUi();
    const prefetch = window.__hallsPrefetch || {};
    let manifest;
    try {
      manifest = checkManifest(await (prefetch.manifest || Promise.reject(new Error('no prefetch')))
        .catch(() => fetchManifest(this.hallId)));
    } catch (error) {
      return this.fail(error);
    }
    performance.mark('halls:manifest');
    this.setManifest(manifest);
    this.placeAtSpawn();
    fetchCatalog().then((catalog) => {
      for (const hall of catalog.halls) this.hallTitles[hall.id] = hall.title;
      this.roomList.render();
    }).catch(() => {});
    this.connectPresence();
    this.xr.init();
    const first = prefetch.first ? prefetch.first.catch(() => null) : null;
    this.streaming = this.streamer.loadAll(manifest, first).then(() => {
      this.loadedMs = performance.now();
      performance.mark('halls:loaded');
      this.startLoop();
      $('progress').hidden = true;
      this.keepVisit(manifest);
    }, (error) => this.fail(error));
    await this.streaming;
  }

  /** Store the hall just loaded so it opens offline next time (js/offline.js); best effort. */
  keepVisit(manifest) {
    this.stored = rememberVisit(this.hallId, manifest, this.streamer.files).then(() => true, (error) => {
      console.warn('hall not stored for offline:', error.message);
      return false;
    });
  }

  /** Render from the first chunk on (nothing to draw before it; the progress bar is HTML). */
  startLoop() {
    if (this.looping) return;
    this.looping = true;
    this.renderer.setAnimationLoop((time) => this.frame(time));
  }

  fail(error) {
    if (this.renderer) this.startLoop();
    this.error = String(error && error.message ? error.message : error);
    const progress = $('progress');
    progress.hidden = false;
    progress.classList.add('error');
    progress.querySelector('.label').textContent = t('loadError', { error: this.error });
  }

  // --- scene ---------------------------------------------------------------

  setupScene() {
    const canvas = $('view');
    this.renderer = new WebGLRenderer({ canvas, antialias: devicePixelRatio < 2, powerPreference: 'high-performance' });
    this.renderer.setPixelRatio(Math.min(devicePixelRatio, 2));
    this.renderer.setSize(innerWidth, innerHeight, false);
    this.scene = new Scene();
    this.scene.background = new Color(DEFAULT_LIGHT.sky);
    this.hemi = new HemisphereLight(0xffffff, 0xd8cfc0, 2);
    this.sun = new DirectionalLight(0xffffff, 1.6);
    this.sun.position.set(8, 20, 6);
    this.scene.add(this.hemi, this.sun);
    this.rig = new Group();
    this.rig.name = 'rig';
    this.camera = new PerspectiveCamera(70, innerWidth / innerHeight, 0.05, 400);
    this.camera.rotation.order = 'YXZ';
    this.camera.position.set(0, EYE_HEIGHT, 0);
    this.rig.add(this.camera);
    this.scene.add(this.rig);
    this.timer = new Timer();
    this.headQuaternion = new Quaternion();
    this.raycaster = new Raycaster();
    this.streamer = new ChunkStreamer(this.scene, {
      onProgress: (p) => this.showProgress(p),
      onChunk: () => { this.settle(); this.startLoop(); },
    });
    this.avatars = new Avatars(this.scene);
    addEventListener('resize', () => {
      if (this.renderer.xr.isPresenting) return;
      this.camera.aspect = innerWidth / innerHeight;
      this.camera.updateProjectionMatrix();
      this.renderer.setSize(innerWidth, innerHeight, false);
    });
  }

  setupUi() {
    this.exhibits = new Exhibits({
      panel: $('panel'), caption: $('caption'), hint: $('hint'), settings: this.settings, hallId: this.hallId,
      onCheckpoint: (checkpoint) => this.openCheckpoint(checkpoint),
    });
    this.quiz = new Quiz({
      panel: $('quiz'), hallId: this.hallId,
      onChange: () => this.xr && this.xr.panelContent && this.xr.panelContent.kind === 'quiz' && this.xr.refreshPanel(),
    });
    this.roomList = new RoomList($('room-list'), {
      onJump: (id) => { this.jumpToRoom(id); this.roomList.toggle(false); $('view').focus(); },
      hallTitle: (id) => pick(this.hallTitles[id]) || id,
    });
    this.minimap = new Minimap($('minimap'), { onJump: (id) => this.jumpToRoom(id) });
    const viewer = this;
    this.tour = new Tour($('tour'), {
      get presence() { return viewer.presence; },
      exhibits: () => (viewer.manifest ? viewer.manifest.exhibits : []),
      travelTo: (cue) => viewer.travelTo(cue),
      whereAmI: () => viewer.whereAmI(),
      toast: (text) => viewer.toast(text),
      narrate: (text) => viewer.narrate(text),
    });
    this.xr = new XR(this, $('vr-button'));
    this.input = new Input($('view'), { base: $('joystick'), knob: $('joystick').firstElementChild }, {
      pick: (x, y) => this.pick(x, y),
      key: (code, event) => this.key(code, event),
    });
    $('rooms-button').addEventListener('click', () => this.roomList.toggle());
    $('fly-button').addEventListener('click', () => this.toggleFly());
    $('help-button').addEventListener('click', () => { $('help').hidden = !$('help').hidden; });
    $('settings-button').addEventListener('click', () => this.openSettings());
    $('settings-cancel').addEventListener('click', () => $('settings').close());
    $('settings-form').addEventListener('submit', () => this.saveSettingsForm());
    onLangChange(() => this.updateTitles());
  }

  setManifest(manifest) {
    this.manifest = manifest;
    this.walls = buildWalls(manifest);
    const theme = manifest.theme || {};
    this.scene.background = new Color(theme.sky || DEFAULT_LIGHT.sky);
    this.hemi.intensity = 1 + 2 * (theme.ambient ?? DEFAULT_LIGHT.ambient);
    this.sun.intensity = 1.5 * (theme.sun ?? DEFAULT_LIGHT.sun);
    this.exhibits.setManifest(manifest);
    this.roomList.setManifest(manifest);
    this.minimap.setManifest(manifest);
    this.tour.render();
    this.updateTitles();
  }

  updateTitles() {
    if (!this.manifest) return;
    const title = pick(this.manifest.title) || this.hallId;
    $('hall-title').textContent = title;
    document.title = `${title} · ${t('appTitle')}`;
    const room = this.manifest.rooms.find((r) => r.id === this.room);
    $('room-name').textContent = room ? pick(room.title) : '';
    $('fly-button').textContent = this.fly ? t('walk') : t('fly');
  }

  showProgress({ done, total, bytes, bytesTotal }) {
    const percent = bytesTotal ? Math.min(100, Math.round((bytes / bytesTotal) * 100)) : 0;
    const node = $('progress');
    node.setAttribute('aria-valuenow', String(percent));
    node.querySelector('.bar').style.width = `${percent}%`;
    node.querySelector('.label').textContent = t('loadingChunks', { done, total, percent });
  }

  // --- where the member is ---------------------------------------------------

  /** The member's floor point in hall coordinates. */
  floorPoint() {
    return toHall(this.rig.position);
  }

  /** Eye (camera) position in hall coordinates. */
  eyePoint() {
    const eye = new Vector3();
    this.camera.getWorldPosition(eye);
    return toHall(eye);
  }

  yaw() {
    const direction = new Vector3();
    this.camera.getWorldDirection(direction);
    return Math.atan2(-direction.x, -direction.z);
  }

  whereAmI() {
    const floor = this.floorPoint();
    return { room: this.room, floor, eye: this.eyePoint(), heading: yawToHeading(this.yaw()) };
  }

  placeAtSpawn() {
    const spawn = this.manifest.spawn;
    this.setPose(spawn.position[0], spawn.position[1], spawn.position[2] ?? 0, headingToYaw(spawn.heading || 0));
  }

  /** Put the member's feet at hall (x, y, z), facing yaw. */
  setPose(x, y, z, yaw = this.rig.rotation.y) {
    toThree([x, y, z], this.rig.position);
    this.rig.rotation.y = yaw;
    this.rig.updateMatrixWorld(true);
    this.room = (roomAt(this.walls.rooms, x, y) || {}).id || this.room;
    this.updateTitles();
  }

  /** Once a chunk arrives, stand on its floor if it is under us. */
  settle() {
    if (this.fly || this.renderer.xr.isPresenting) return;
    const [x, y, z] = this.floorPoint();
    const ground = this.groundAt(x, y, z, 2);
    if (ground !== null) this.rig.position.y = ground;
  }

  /** Height of the walkable surface under hall (x, y), from `reach` above z to `depth` below it, or null. */
  groundAt(x, y, z, reach = STEP_UP, depth = MAX_DROP) {
    const roots = this.streamer.roots();
    if (!roots.length) return null;
    this.raycaster.set(new Vector3(x, z + reach + 0.05, -y), new Vector3(0, -1, 0));
    this.raycaster.near = 0;
    this.raycaster.far = reach + depth + 0.1;
    for (const hit of this.raycaster.intersectObjects(roots, true)) {
      if (!hit.face) continue;
      const normal = hit.face.normal.clone().transformDirection(hit.object.matrixWorld);
      if (normal.y > 0.5) return hit.point.y;
    }
    return null;
  }

  /** The floor under hall (x, y) near height z (for jumps and tour moves; floors and doorways are near 0). */
  groundBelow(x, y, z = 0) {
    return this.groundAt(x, y, z, 1.2, 6) ?? z;
  }

  /** Is a three.js world point a floor inside the hall (for teleports)? */
  floorAt(point) {
    const [x, y] = toHall(point);
    const room = roomAt(this.walls.rooms, x, y);
    if (!room) return false;
    const [x0, y0] = room.bounds.min;
    const [x1, y1] = room.bounds.max;
    const margin = WALL + BODY_RADIUS;
    return x > x0 + margin && x < x1 - margin && y > y0 + margin && y < y1 - margin;
  }

  // --- moving ----------------------------------------------------------------

  frame(time) {
    this.timer.update(time);
    const dt = Math.min(this.timer.getDelta(), 0.1);
    if (this.renderer.xr.isPresenting) {
      this.xr.update();
    } else {
      this.look();
      if (this.travel) this.stepTravel(); else this.move(dt);
    }
    this.avatars.update(dt, this.camera);
    if (this.manifest) this.afterMove();
    this.renderer.render(this.scene, this.camera);
    this.frames += 1;
    if (this.firstFrameMs === null && this.streamer.chunks.size > 0) {
      this.firstFrameMs = performance.now();
      this.firstFrameBytes = this.streamer.bytesLoaded;
      performance.mark('halls:first-frame');
      this.streamer.framed();
    }
  }

  look() {
    const { yaw, pitch } = this.input.takeLook();
    this.rig.rotation.y += yaw;
    this.camera.rotation.x = Math.max(-PITCH_LIMIT, Math.min(PITCH_LIMIT, this.camera.rotation.x + pitch));
  }

  move(dt) {
    const a = this.input.axes();
    if (!this.settings.reducedMotion) this.rig.rotation.y += a.turn * TURN * dt;
    if (!this.manifest || (!a.forward && !a.right && !a.up)) return;
    const yaw = this.rig.rotation.y;
    const speed = (this.fly ? FLY : a.run ? RUN : WALK) * dt;
    const forward = [-Math.sin(yaw), Math.cos(yaw)];
    const right = [Math.cos(yaw), Math.sin(yaw)];
    const [x, y, z] = this.floorPoint();
    const to = [x + (forward[0] * a.forward + right[0] * a.right) * speed, y + (forward[1] * a.forward + right[1] * a.right) * speed];
    if (this.fly) {
      this.setPose(to[0], to[1], Math.max(-2, Math.min(60, z + a.up * speed)));
      return;
    }
    const [nx, ny] = collide(this.walls, [x, y], to);
    const portal = portalCrossed(this.walls, [x, y], [nx, ny]);
    if (portal) return this.leaveThrough(portal);
    const ground = this.groundAt(nx, ny, z);
    let nz = ground;
    if (ground === null) {
      if (!roomAt(this.walls.rooms, nx, ny)) return; // nothing to stand on
      nz = z; // chunk not here yet: keep the height
    } else if (ground - z > STEP_UP || z - ground > MAX_DROP) {
      return; // too high to climb or too deep to step down
    }
    this.setPose(nx, ny, nz);
  }

  key(code, event) {
    const onControl = event.target instanceof Element && event.target.closest('button, a, input, select, textarea, summary');
    switch (code) {
      case 'turn-press':
        if (this.settings.reducedMotion) this.rig.rotation.y += event.code === 'ArrowLeft' ? SNAP : -SNAP;
        break;
      case 'KeyF': this.toggleFly(); break;
      case 'KeyM': this.roomList.toggle(); break;
      case 'KeyH': $('help').hidden = !$('help').hidden; break;
      case 'Enter':
      case 'KeyE': {
        if (onControl) return;
        const near = this.exhibits.nearest(this.eyePoint(), this.facing()) || this.lookedAt();
        if (near) this.exhibits.show(near, 'click');
        break;
      }
      case 'Escape':
        if (!this.exhibits.panelNode.hidden) this.exhibits.close();
        else if (this.quiz.checkpoint) this.quiz.close();
        else if (!$('room-list').hidden) this.roomList.toggle(false);
        else if (!this.exhibits.captionNode.hidden) this.exhibits.endNarration();
        else $('help').hidden = true;
        $('view').focus({ preventScroll: true });
        break;
      default: break;
    }
  }

  facing() {
    const yaw = this.yaw();
    return [-Math.sin(yaw), Math.cos(yaw)];
  }

  toggleFly() {
    this.fly = !this.fly;
    $('fly-button').setAttribute('aria-pressed', String(this.fly));
    if (this.fly) {
      this.walkBack = this.floorPoint();
      this.toast(t('flyOn'));
    } else {
      const [x, y] = this.floorPoint();
      if (roomAt(this.walls.rooms, x, y)) this.setPose(x, y, this.groundBelow(x, y));
      else this.setPose(...this.walkBack);
    }
    this.updateTitles();
  }

  /** Jump to a room: just inside its first doorway, facing the room's centre. */
  jumpToRoom(roomId) {
    const room = this.manifest.rooms.find((r) => r.id === roomId);
    if (!room) return;
    const centre = [(room.bounds.min[0] + room.bounds.max[0]) / 2, (room.bounds.min[1] + room.bounds.max[1]) / 2];
    let target = centre;
    if (this.manifest.spawn.room === roomId) {
      target = this.manifest.spawn.position;
    } else {
      const door = this.manifest.doorways.find((d) => d.to_room === roomId || (d.room === roomId && d.to_room));
      if (door) {
        const dx = centre[0] - door.position[0];
        const dy = centre[1] - door.position[1];
        const axisX = Math.abs(door.position[0] - room.bounds.min[0]) < 0.05 || Math.abs(door.position[0] - room.bounds.max[0]) < 0.05;
        target = axisX ? [door.position[0] + Math.sign(dx) * 1.5, door.position[1]] : [door.position[0], door.position[1] + Math.sign(dy) * 1.5];
      }
    }
    this.moveTo([target[0], target[1]], yawToward(target, centre));
  }

  /** Go to hall point [x, y] facing yaw: at once with reduced motion, else a short glide. */
  moveTo(point, yaw) {
    const z = this.groundBelow(point[0], point[1], point[2] ?? 0);
    if (this.settings.reducedMotion || this.renderer.xr.isPresenting) {
      this.setPose(point[0], point[1], z, yaw);
      this.travel = null;
      return;
    }
    const from = this.floorPoint();
    this.travel = { from, to: [point[0], point[1], z], yawFrom: this.rig.rotation.y, yawTo: yaw, start: performance.now() };
  }

  stepTravel() {
    const tr = this.travel;
    const k = Math.min(1, (performance.now() - tr.start) / (TRAVEL_SECONDS * 1000));
    const e = k < 0.5 ? 2 * k * k : 1 - (-2 * k + 2) ** 2 / 2;
    const delta = Math.atan2(Math.sin(tr.yawTo - tr.yawFrom), Math.cos(tr.yawTo - tr.yawFrom));
    this.setPose(tr.from[0] + (tr.to[0] - tr.from[0]) * e, tr.from[1] + (tr.to[1] - tr.from[1]) * e,
      tr.from[2] + (tr.to[2] - tr.from[2]) * e, tr.yawFrom + delta * e);
    if (k >= 1) this.travel = null;
  }

  /** A tour cue: go to an exhibit (stand in front of it) or gather at a point. */
  travelTo(cue) {
    if (!cue.p) return;
    const p = cue.p;
    const room = this.manifest.rooms.find((r) => r.id === cue.room) || roomAt(this.walls.rooms, p[0], p[1]);
    if (cue.event === TOUR_EVENT.GATHER) {
      const me = this.presence && this.presence.me ? this.presence.me.id : 0;
      const angle = me * 2.399963; // golden angle: followers spread around the trainer
      const spot = this.inside(room, [p[0] + Math.cos(angle), p[1] + Math.sin(angle)]);
      this.moveTo([spot[0], spot[1], p[2] ?? 0], yawToward(spot, p));
      return;
    }
    const exhibit = this.manifest.exhibits.find((e) => e.id === cue.exhibit);
    const distance = exhibit && exhibit.kind === 'diorama' ? 3 : 1.8;
    const centre = room ? [(room.bounds.min[0] + room.bounds.max[0]) / 2, (room.bounds.min[1] + room.bounds.max[1]) / 2] : p;
    const dx = centre[0] - p[0];
    const dy = centre[1] - p[1];
    const length = Math.hypot(dx, dy) || 1;
    const spot = this.inside(room, [p[0] + (dx / length) * distance, p[1] + (dy / length) * distance]);
    this.moveTo(spot, yawToward(spot, p));
  }

  /** A point clamped inside a room's walls. */
  inside(room, [x, y]) {
    if (!room) return [x, y];
    const m = WALL + BODY_RADIUS + 0.1;
    return [Math.min(room.bounds.max[0] - m, Math.max(room.bounds.min[0] + m, x)),
      Math.min(room.bounds.max[1] - m, Math.max(room.bounds.min[1] + m, y))];
  }

  leaveThrough(portal) {
    if (this.leaving) return;
    this.leaving = true;
    location.assign(`/halls/${encodeURIComponent(portal.hall)}`);
  }

  afterMove() {
    const eye = this.eyePoint();
    const room = roomAt(this.walls.rooms, eye[0], eye[1]);
    if (room && room.id !== this.room) {
      this.room = room.id;
      this.updateTitles();
    }
    this.exhibits.update(eye, this.facing());
    if (this.presence) this.presence.pose(this.room, eye, quaternionToHall(this.camera.getWorldQuaternion(this.headQuaternion)));
    const now = performance.now();
    if (!this.lastMap || now - this.lastMap > 200) {
      this.lastMap = now;
      const others = this.avatars.list().filter((a) => a.position).map((a) => a.position);
      this.minimap.draw({ position: eye, heading: this.yaw(), room: this.room }, others);
    }
  }

  // --- picking ---------------------------------------------------------------

  pickTargets() {
    return this.streamer.roots();
  }

  /** Open the exhibit under normalised device coordinates (x, y); true when one opened. */
  pick(x, y) {
    this.raycaster.setFromCamera(new Vector2(x, y), this.camera);
    this.raycaster.near = 0;
    this.raycaster.far = 15;
    const hit = this.raycaster.intersectObjects(this.pickTargets(), true)[0];
    const exhibit = hit && this.exhibits.exhibitOf(hit.object);
    if (!exhibit) return false;
    this.exhibits.show(exhibit, 'click');
    return true;
  }

  lookedAt() {
    this.raycaster.setFromCamera(new Vector2(0, 0), this.camera);
    this.raycaster.far = 6;
    const hit = this.raycaster.intersectObjects(this.pickTargets(), true)[0];
    return hit ? this.exhibits.exhibitOf(hit.object) : null;
  }

  openCheckpoint(checkpoint) {
    this.exhibits.close();
    this.quiz.open(checkpoint);
    if (this.renderer.xr.isPresenting) this.xr.openQuiz(checkpoint);
  }

  // --- XR hooks ----------------------------------------------------------------

  teleported() {
    this.room = (roomAt(this.walls.rooms, ...this.eyePoint().slice(0, 2)) || {}).id || this.room;
    this.updateTitles();
  }

  xrEnded() {
    this.camera.position.set(0, EYE_HEIGHT, 0);
    this.camera.rotation.set(0, 0, 0);
    this.camera.aspect = innerWidth / innerHeight;
    this.camera.updateProjectionMatrix();
    this.settle();
  }

  // --- presence, tours, live reload ----------------------------------------------

  connectPresence() {
    if (this.presence) this.presence.close();
    const signedIn = session.get();
    const role = this.settings.key || (signedIn && signedIn.member.role === 'trainer') ? 'trainer' : 'member';
    this.avatars.clear();
    const identity = { name: this.settings.name, role, key: this.settings.key || undefined, token: signedIn ? signedIn.token : undefined };
    this.presence = new Presence(this.hallId, identity, {
      welcome: (message) => {
        this.avatars.clear();
        for (const info of message.members) this.avatars.setInfo(info);
        this.tour.welcome(message);
        if (this.settings.key && message.role !== 'trainer') this.toast(t('trainerDenied'));
        this.countOnline();
      },
      joined: (members) => { for (const info of members) this.avatars.setInfo(info); this.countOnline(); },
      left: (ids) => { for (const id of ids) this.avatars.remove(id); this.countOnline(); },
      poses: (records) => {
        for (const r of records) this.avatars.pose(r.id, r.position, r.quaternion, r.flags);
      },
      tour: (cue) => this.tour.handle(cue),
      reload: (message) => this.reload(message.chunks || []),
      buildError: (message) => this.toast(t('buildError', { text: message.text }), 10000),
      error: (message) => this.toast(message.text),
      status: (connected) => { if (!connected && !this.leaving) this.countOnline(false); },
    });
    this.presence.connect();
  }

  countOnline(connected = true) {
    $('presence-count').textContent = connected ? t('online', { n: this.avatars.members.size + 1 }) : t('offline');
  }

  /** A rebuild changed some chunks: fetch the new manifest and swap them in place. */
  async reload(changed) {
    await this.streaming;
    let fresh;
    try {
      fresh = await fetchManifest(this.hallId, 'no-cache');
    } catch (error) {
      this.toast(t('loadError', { error: error.message }));
      return;
    }
    const wanted = new Set(changed);
    const ids = new Set(fresh.chunks.map((c) => c.id));
    this.setManifest(fresh);
    const swaps = [];
    for (const chunk of fresh.chunks) {
      const loaded = this.streamer.chunks.get(chunk.id);
      if (chunk.model && (!loaded || loaded.sha !== chunk.model.sha256 || (wanted.has(chunk.id) && loaded.sha !== chunk.model.sha256))) {
        swaps.push(this.streamer.add(chunk, !loaded));
      }
    }
    for (const id of [...this.streamer.chunks.keys()]) if (!ids.has(id)) this.streamer.remove(id);
    await Promise.all(swaps);
    this.reloads += 1;
    this.toast(t('reloaded'));
  }

  toast(text, ms = 4000) {
    const node = $('toast');
    node.textContent = text;
    node.classList.add('show');
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => node.classList.remove('show'), ms);
  }

  narrate(text) {
    const node = this.exhibits.captionNode;
    replace(node, el('p', { text }));
    node.hidden = false;
    clearTimeout(this.narrateTimer);
    this.narrateTimer = setTimeout(() => { node.hidden = true; }, Math.max(8000, text.length * 250));
  }

  // --- settings ----------------------------------------------------------------

  openSettings() {
    const form = $('settings-form');
    form.elements.name.value = this.settings.name;
    form.elements.key.value = this.settings.key;
    form.elements.reducedMotion.checked = this.settings.reducedMotion;
    form.elements.voice.checked = this.settings.voice;
    this.renderAccount();
    $('settings').showModal();
  }

  renderAccount() {
    const current = session.get();
    const account = $('account');
    if (current) {
      replace(account, el('p', { text: t('signedInAs', { name: current.member.name }) }),
        el('button', { type: 'button', text: t('signOut'), onclick: () => { session.signOut(); this.renderAccount(); } }));
    } else {
      replace(account, signInForm(() => this.renderAccount()));
    }
  }

  saveSettingsForm() {
    const form = $('settings-form');
    const before = { name: this.settings.name, key: this.settings.key };
    this.settings.name = form.elements.name.value.trim() || this.settings.name;
    this.settings.key = form.elements.key.value.trim();
    this.settings.reducedMotion = form.elements.reducedMotion.checked;
    this.settings.voice = form.elements.voice.checked;
    saveSettings(this.settings);
    if (before.name !== this.settings.name || before.key !== this.settings.key) this.connectPresence();
  }
}

// --- start, and the hook the browser tests read ------------------------------------

const hallId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || 'lobby');
const viewer = new Viewer(hallId);

window.__hallsViewer = {
  get hall() { return viewer.hallId; },
  get ready() { return Boolean(viewer.manifest); },
  get error() { return viewer.error; },
  get chunks() { return [...viewer.streamer.chunks.keys()]; },
  get chunkHashes() { return Object.fromEntries([...viewer.streamer.chunks].map(([id, c]) => [id, c.sha])); },
  get loaded() { return viewer.loadedMs !== null; },
  get meshes() { return viewer.streamer.meshCount; },
  get textured() { return viewer.streamer.texturedCount; },
  get frames() { return viewer.frames; },
  get firstFrameMs() { return viewer.firstFrameMs; },
  get loadedMs() { return viewer.loadedMs; },
  get firstFrameBytes() { return viewer.firstFrameBytes; },
  get bytes() { return { loaded: viewer.streamer.bytesLoaded, total: viewer.streamer.bytesTotal }; },
  get camera() { return viewer.manifest ? viewer.eyePoint() : null; },
  get position() { return viewer.manifest ? viewer.floorPoint() : null; },
  get heading() { return yawToHeading(viewer.yaw()); },
  get room() { return viewer.room; },
  get fly() { return viewer.fly; },
  get panel() {
    const node = $('panel');
    return node.hidden ? null : { exhibit: node.dataset.exhibit, text: node.textContent };
  },
  get caption() { return $('caption').hidden ? null : $('caption').textContent; },
  get quiz() {
    const node = $('quiz');
    return node.hidden ? null : { checkpoint: node.dataset.checkpoint, text: node.textContent, result: viewer.quiz.result };
  },
  get avatars() { return viewer.avatars.list(); },
  get member() { return viewer.presence && viewer.presence.me; },
  get tour() {
    const tour = viewer.tour;
    return { leader: tour.leader, following: tour.following, followers: tour.followers, role: tour.role, cues: tour.cues };
  },
  get xr() {
    const xr = viewer.xr;
    return { supported: xr.supported, presenting: xr.presenting, teleports: xr.teleports, turns: xr.turns,
      selects: xr.selects, panel: xr.panel.mesh.visible };
  },
  get reloads() { return viewer.reloads; },
  get stored() { return viewer.stored || null; }, // a Promise: true once the hall is stored for offline
  get travelling() { return Boolean(viewer.travel); },
  /** Stand at hall (x, y) facing `heading` degrees (0 north, counter-clockwise). */
  goTo(x, y, heading = 0) {
    viewer.travel = null;
    viewer.setPose(x, y, viewer.groundBelow(x, y), headingToYaw(heading));
    viewer.camera.rotation.x = 0;
    return viewer.floorPoint();
  },
  jumpToRoom: (id) => viewer.jumpToRoom(id),
  viewer,
};

viewer.start().catch((error) => viewer.fail(error));
