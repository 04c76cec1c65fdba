// Member settings kept in this browser: display name, trainer key, reduced motion, narration voice.

const KEY = 'halls.settings';
const TRAINER_KEY = 'halls.trainerKey';

export function loadSettings() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY)) || {}; } catch { /* storage blocked */ }
  const prefersReduced = window.matchMedia && matchMedia('(prefers-reduced-motion: reduce)').matches;
  const settings = {
    name: saved.name || `访客${Math.floor(1000 + Math.random() * 9000)}`,
    reducedMotion: saved.reducedMotion ?? prefersReduced,
    voice: saved.voice ?? true,
    key: '',
  };
  // A trainer link (?trainer=KEY) is kept for this tab only and taken out of the address bar.
  const params = new URLSearchParams(location.search);
  try {
    if (params.has('trainer')) {
      sessionStorage.setItem(TRAINER_KEY, params.get('trainer'));
      params.delete('trainer');
      const query = params.toString();
      history.replaceState(null, '', location.pathname + (query ? `?${query}` : '') + location.hash);
    }
    settings.key = sessionStorage.getItem(TRAINER_KEY) || '';
  } catch { /* storage blocked */ }
  if (params.has('name')) settings.name = params.get('name').slice(0, 40);
  return settings;
}

export function saveSettings(settings) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ name: settings.name, reducedMotion: settings.reducedMotion, voice: settings.voice }));
    if (settings.key) sessionStorage.setItem(TRAINER_KEY, settings.key);
    else sessionStorage.removeItem(TRAINER_KEY);
  } catch { /* storage blocked */ }
}
