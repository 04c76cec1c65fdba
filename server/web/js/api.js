// The server's JSON API: halls, the member session and the quiz (graded on the server).

const SESSION_KEY = 'halls.session';

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** GET or POST JSON; an ApiError carries the server's {"error": …} text. */
export async function requestJSON(url, { method = 'GET', body, token, cache } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { method, headers, cache, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, String(error.message || error));
  }
  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, String(message), data);
  }
  return data;
}

export const halls = () => requestJSON('/api/halls');
export const manifest = (hallId, cache) =>
  requestJSON(`/api/halls/${encodeURIComponent(hallId)}?variant=meshopt`, { cache });

/** The signed-in member ({token, member}) kept in localStorage. */
export const session = {
  get() {
    try { return JSON.parse(localStorage.getItem(SESSION_KEY)) || null; } catch { return null; }
  },
  async signIn({ member_id, name, branch }) {
    const body = { member_id, name };
    if (branch) body.branch = branch;
    const data = await requestJSON('/api/session', { method: 'POST', body });
    const value = { token: data.token, member: data.member || { member_id, name, branch } };
    try { localStorage.setItem(SESSION_KEY, JSON.stringify(value)); } catch { /* storage blocked */ }
    return value;
  },
  signOut() {
    try { localStorage.removeItem(SESSION_KEY); } catch { /* storage blocked */ }
  },
};

/** Send one attempt at a checkpoint; the server grades it. */
export function submitAttempt(hallId, checkpointId, answers, registration, platform = 'browser') {
  const current = session.get();
  return requestJSON(
    `/api/halls/${encodeURIComponent(hallId)}/checkpoints/${encodeURIComponent(checkpointId)}/attempts`,
    { method: 'POST', token: current && current.token, body: { answers, registration, platform } },
  );
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

/** Accept {halls: {...}}, {halls: [...]} or a bare list/map of per-hall entries. */
export function normaliseProgress(data) {
  const source = data && (data.halls ?? data.progress ?? data);
  const result = {};
  const add = (id, entry) => {
    if (!id || !entry || typeof entry !== 'object') return;
    const passed = entry.passed ?? entry.checkpoints_passed ?? entry.done ?? null;
    const total = entry.total ?? entry.checkpoints ?? entry.checkpoints_total ?? null;
    const complete = Boolean(entry.complete ?? entry.completed ?? entry.hall_complete ?? (total && passed >= total));
    result[id] = { complete, passed, total };
  };
  if (Array.isArray(source)) for (const entry of source) add(entry.hall ?? entry.id ?? entry.hall_id, entry);
  else if (source && typeof source === 'object') for (const [id, entry] of Object.entries(source)) add(id, entry);
  return result;
}

/** A random id for one visit (the attempts' `registration`). */
export function newRegistration() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
