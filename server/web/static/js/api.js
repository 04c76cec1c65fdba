// The server's JSON API: halls, the member session and the quiz (graded on the server).
import { MANIFEST_FORMAT, MANIFEST_VERSION } from './contract.js';

const SESSION_KEY = 'halls.session';

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** GET or POST JSON; an ApiError carries the server's {"error": …} text (status 0: no answer came). */
export async function requestJSON(url, { method = 'GET', body, token, cache, headers: extra, timeout } = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const abort = timeout ? new AbortController() : null;
  const timer = abort && setTimeout(() => abort.abort(new Error(`no answer in ${timeout / 1000} s`)), timeout);
  let response;
  let data = null;
  try {
    try {
      response = await fetch(url, { method, headers, cache, signal: abort ? abort.signal : undefined,
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, String(error.message || error));
    }
    const type = response.headers.get('Content-Type') || '';
    if (type.includes('json')) {
      data = await response.json().catch(() => undefined);
      if (data === undefined && response.ok) throw new ApiError(0, 'the answer was cut off');
    }
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, String(message), data);
  }
  return data;
}

export const halls = () => requestJSON('/api/halls');
export const manifest = (hallId, cache) =>
  requestJSON(`/api/halls/${encodeURIComponent(hallId)}?variant=meshopt`, { cache }).then(checkManifest);

/** A manifest this viewer can read, else an Error saying why (the same check as the Panda3D client's). */
export function checkManifest(data) {
  if (!data || data.format !== MANIFEST_FORMAT) {
    throw new Error(`manifest: format ${JSON.stringify(data && data.format)} is not '${MANIFEST_FORMAT}'`);
  }
  if (data.version !== MANIFEST_VERSION) {
    throw new Error(`manifest: version ${JSON.stringify(data.version)} is not supported by this viewer `
      + `(it reads version ${MANIFEST_VERSION}); reload the page`);
  }
  return data;
}

/** The signed-in member ({token, member}) kept in localStorage. */
export const session = {
  get() {
    try { return JSON.parse(localStorage.getItem(SESSION_KEY)) || null; } catch { return null; }
  },
  async signIn({ member_id, name, branch, enrolment_code }) {
    const body = { member_id, name };
    if (branch) body.branch = branch;
    if (enrolment_code) body.enrolment_code = enrolment_code;
    const data = await requestJSON('/api/session', { method: 'POST', body });
    const value = { token: data.token, member: data.member || { member_id, name, branch } };
    try { localStorage.setItem(SESSION_KEY, JSON.stringify(value)); } catch { /* storage blocked */ }
    return value;
  },
  signOut() {
    try { localStorage.removeItem(SESSION_KEY); } catch { /* storage blocked */ }
  },
};

export const ATTEMPT_TIMEOUT_MS = 20000;
export const ATTEMPT_RETRY_DELAY_MS = 1000;
const unsettled = new Map(); // hall|checkpoint -> {answers, key} of a submission whose answer never came

/**
 * Send one attempt at a checkpoint; the server grades it.
 *
 * Each submission has its own `Idempotency-Key`: when no answer comes (the
 * network dropped, or ATTEMPT_TIMEOUT_MS passed) it is sent once more with the
 * same key, and if that fails too the same answers submitted again reuse it.
 * The server answers a key it has seen with the first result, counting no
 * second try.
 */
export async function submitAttempt(hallId, checkpointId, answers, platform = 'browser',
  { retryDelay = ATTEMPT_RETRY_DELAY_MS, timeout = ATTEMPT_TIMEOUT_MS } = {}) {
  const current = session.get();
  const registration = await visit(hallId, platform);
  const where = `${hallId}|${checkpointId}`;
  const sent = canonicalJSON(answers);
  const earlier = unsettled.get(where);
  const key = earlier && earlier.answers === sent ? earlier.key : newSubmissionKey();
  unsettled.delete(where);
  const send = () => requestJSON(
    `/api/halls/${encodeURIComponent(hallId)}/checkpoints/${encodeURIComponent(checkpointId)}/attempts`,
    { method: 'POST', token: current && current.token, body: { answers, registration, platform },
      headers: { 'Idempotency-Key': key }, timeout },
  );
  try {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 0) throw error;
      await new Promise((resolve) => { setTimeout(resolve, retryDelay); });
      return await send(); // the same key: if the first was stored, its result comes back
    }
  } catch (error) {
    if (error instanceof ApiError && (error.status === 0 || error.status >= 500)) {
      unsettled.set(where, { answers: sent, key }); // it may have been stored: submitting again is a retry
    }
    throw error;
  }
}

/** JSON of answers with sorted question ids (the same answers give the same text). */
function canonicalJSON(answers) {
  return JSON.stringify(Object.keys(answers || {}).sort().map((id) => [id, answers[id]]));
}

/** The member's state at a checkpoint (attempts left, passed, retry_after), or null. */
export async function checkpointState(hallId, checkpointId) {
  const current = session.get();
  if (!current) return null;
  try {
    return await requestJSON(`/api/halls/${encodeURIComponent(hallId)}/checkpoints/${encodeURIComponent(checkpointId)}`,
      { token: current.token, cache: 'no-store' });
  } catch {
    return null;
  }
}

const visits = new Map(); // hall and token -> registration (one visit per hall and sign-in)

/** The registration of this visit (POST /api/halls/{hall}/visits), made once per hall and sign-in. */
export function visit(hallId, platform = 'browser') {
  const current = session.get();
  const key = `${hallId}|${current ? current.token : ''}`;
  if (!visits.has(key)) {
    const made = requestJSON(`/api/halls/${encodeURIComponent(hallId)}/visits`,
      { method: 'POST', token: current && current.token, body: { platform } })
      .then((data) => data.registration)
      .catch((error) => {
        visits.delete(key);
        if (error.status === 404 || error.status === 405) return newRegistration(); // a server without visits
        throw error;
      });
    visits.set(key, made);
  }
  return visits.get(key);
}

/** Report time spent in a diorama area (signed-in members only; failures are not the member's problem). */
export async function experienced(hallId, dioramaId, seconds, platform = 'browser') {
  const current = session.get();
  if (!current || !(seconds > 1)) return;
  try {
    const registration = await visit(hallId, platform);
    await requestJSON(`/api/halls/${encodeURIComponent(hallId)}/dioramas/${encodeURIComponent(dioramaId)}/experienced`,
      { method: 'POST', token: current.token, body: { registration, seconds: Math.min(seconds, 4 * 3600) } });
  } catch { /* records are best effort from here */ }
}

/** Completion per hall for the signed-in member: {hallId: {complete, passed, total}}, or null. */
export async function progress() {
  const current = session.get();
  if (!current) return null;
  try {
    return normaliseProgress(await requestJSON('/api/me/progress', { token: current.token, cache: 'no-cache' }));
  } catch (error) {
    if (error.status === 401) session.signOut();
    return null;
  }
}

/** {hallId: {complete, checkpoints: {id: {passed}}}} (also {halls: ...} or a list) -> {hallId: {complete, passed, total}}. */
export function normaliseProgress(data) {
  const source = data && !Array.isArray(data) && data.halls ? data.halls : data;
  const result = {};
  const add = (id, entry) => {
    if (!id || !entry || typeof entry !== 'object') return;
    let passed = typeof entry.passed === 'number' ? entry.passed : null;
    let total = typeof entry.total === 'number' ? entry.total : null;
    if (entry.checkpoints && typeof entry.checkpoints === 'object') {
      const list = Object.values(entry.checkpoints);
      total = list.length;
      passed = list.filter((c) => c && c.passed).length;
    }
    const complete = Boolean(entry.complete ?? entry.hall_complete ?? (total && passed >= total));
    const started = complete || passed > 0
      || Object.values(entry.checkpoints || {}).some((c) => c && (c.attempts > 0 || c.passed));
    result[id] = { complete, passed, total, started };
  };
  if (Array.isArray(source)) for (const entry of source) add(entry.hall ?? entry.id, entry);
  else if (source && typeof source === 'object') for (const [id, entry] of Object.entries(source)) add(id, entry);
  return result;
}

/** A random id for one visit (the attempts' `registration`). */
export const newRegistration = () => randomUUID();

/** A random id for one submission of answers (its `Idempotency-Key`). */
export const newSubmissionKey = () => randomUUID();

/** A random (version 4) UUID, also where `crypto.randomUUID` is missing (plain http on a LAN address). */
function randomUUID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
