// UI strings in Chinese (default) and English, and the language switch.
// Hall content carries its own {zh, en} texts: `pick` chooses one.

const STRINGS = {
  zh: {
    appTitle: '屯兰VR智慧党建培训基地',
    catalogIntro: '十个主题展厅、四个教育展馆和入口大厅。选择一个展馆进入参观。',
    catalogLoading: '正在载入展馆目录……',
    catalogError: '无法载入展馆目录：{error}',
    rooms: '{n} 个展厅',
    exhibits: '{n} 件展品',
    checkpoints: '{n} 个答题点',
    size: '约 {mb} MB',
    enter: '进入展馆',
    complete: '已完成',
    inProgress: '进行中',
    language: 'English',
    languageLabel: '切换到英文',
    back: '返回目录',
    loading: '正在载入展馆……',
    loadingChunks: '正在载入 {done}/{total} · {percent}%',
    loadError: '载入失败：{error}',
    roomList: '房间',
    roomListTitle: '房间与出口',
    goRoom: '前往 {room}',
    goHall: '前往 {hall}',
    fly: '飞行',
    walk: '行走',
    flyOn: '飞行模式：可穿墙俯瞰，按 F 返回行走',
    settings: '设置',
    reducedMotion: '减少动态效果（转向与移动不平滑过渡）',
    narrationVoice: '展区解说自动朗读',
    displayName: '显示名称',
    trainerKey: '培训师密钥（可选）',
    save: '保存',
    close: '关闭',
    play: '播放解说',
    pause: '暂停解说',
    enterVR: '进入VR',
    exitVR: '退出VR',
    help: '帮助',
    helpText: 'W/S 或 ↑/↓ 前进后退 · A/D 平移 · ←/→ 转向 · 拖动或点击画面后移动鼠标环顾 · Enter 查看最近的展品 · F 飞行 · M 房间列表 · Esc 关闭',
    nearHint: '按 Enter 查看：{title}',
    signInTitle: '学员登录',
    signInNeeded: '答题前请先登录。',
    memberId: '工号',
    memberName: '姓名',
    branch: '党支部（可选）',
    enrolmentCode: '登记码（如有）',
    quizAlreadyPassed: '你已通过本答题点。',
    quizNoAttempts: '答题次数已用完。',
    signIn: '登录',
    signOut: '退出登录',
    signedInAs: '已登录：{name}',
    quizSubmit: '提交答案',
    quizSending: '正在提交……',
    quizTrue: '正确',
    quizFalse: '错误',
    quizSingle: '单选题',
    quizMultiple: '多选题',
    quizJudge: '判断题',
    quizPassed: '恭喜，通过！',
    quizFailed: '未通过，请再接再厉。',
    quizScore: '得分：{raw}/{max}',
    quizAttemptsLeft: '剩余答题次数：{n}',
    quizRetryAfter: '{s} 秒后可再次作答',
    quizHallComplete: '本展馆学习已全部完成！',
    quizRight: '回答正确',
    quizWrong: '回答错误',
    quizUnanswered: '请回答全部题目后再提交。',
    quizUnavailable: '答题服务暂不可用：{error}',
    quizRetry: '再答一次',
    xrSignIn: '请先在浏览器中登录后再进入VR答题。',
    xrNext: '下一题',
    xrPrev: '上一题',
    online: '在线 {n} 人',
    tourRunning: '{name} 正在带领导览',
    follow: '跟随培训师',
    unfollow: '取消跟随',
    following: '正在跟随 {name}',
    tourStart: '开始导览',
    tourEnd: '结束导览',
    tourGoto: '带大家前往展品',
    tourGather: '集合到我这里',
    tourFollowers: '跟随人数：{n}',
    tourExhibit: '选择展品',
    tourEnded: '导览已结束',
    trainerDenied: '培训师密钥无效，已按普通学员进入。',
    trainerOn: '培训师模式',
    reloaded: '展馆内容已更新',
    buildError: '构建失败：{text}',
    offline: '与服务器的连接已断开，正在重连……',
    narration: '解说',
    portalTo: '前往',
    netOnline: '在线',
    netOffline: '离线',
    keep: '离线保存',
    keepTitle: '下载整个展馆，断网时也能参观',
    keeping: '正在保存 {percent}%（{done}/{total}）',
    kept: '已离线保存 · {mb} MB',
    keptPartial: '部分已保存 · {mb} MB',
    visited: '已缓存（参观过）· {mb} MB',
    removeKept: '移除',
    keepFailed: '保存失败：{error}',
    noSpace: '空间不足：需要 {need} MB，只剩 {free} MB。请先移除其他展馆。',
    notOffline: '离线时不可用',
    storageSummary: '离线保存：{halls} 个展馆，共 {mb} MB',
    storageQuota: '已用 {used} MB / 可用 {quota} MB',
    storagePersisted: '已获准长期保存',
    storageNotPersisted: '浏览器可能在空间紧张时清除',
  },
  en: {
    appTitle: 'Tunlan VR Smart Party-Building Training Base',
    catalogIntro: 'Ten theme halls, four education galleries and the entrance lobby. Choose a hall to visit.',
    catalogLoading: 'Loading the halls…',
    catalogError: 'Cannot load the halls: {error}',
    rooms: '{n} rooms',
    exhibits: '{n} exhibits',
    checkpoints: '{n} quizzes',
    size: 'about {mb} MB',
    enter: 'Enter',
    complete: 'Completed',
    inProgress: 'In progress',
    language: '中文',
    languageLabel: 'Switch to Chinese',
    back: 'All halls',
    loading: 'Loading the hall…',
    loadingChunks: 'Loading {done}/{total} · {percent}%',
    loadError: 'Loading failed: {error}',
    roomList: 'Rooms',
    roomListTitle: 'Rooms and exits',
    goRoom: 'Go to {room}',
    goHall: 'Go to {hall}',
    fly: 'Fly',
    walk: 'Walk',
    flyOn: 'Flying: pass through walls for an overview; press F to walk again',
    settings: 'Settings',
    reducedMotion: 'Reduce motion (snap turns and jumps, no smooth moves)',
    narrationVoice: 'Read narration aloud in diorama areas',
    displayName: 'Display name',
    trainerKey: 'Trainer key (optional)',
    save: 'Save',
    close: 'Close',
    play: 'Play narration',
    pause: 'Pause narration',
    enterVR: 'Enter VR',
    exitVR: 'Exit VR',
    help: 'Help',
    helpText: 'W/S or ↑/↓ move · A/D strafe · ←/→ turn · drag, or click the view then move the mouse, to look · Enter opens the nearest exhibit · F fly · M rooms · Esc closes',
    nearHint: 'Press Enter to open: {title}',
    signInTitle: 'Member sign-in',
    signInNeeded: 'Please sign in before answering.',
    memberId: 'Member number',
    memberName: 'Name',
    branch: 'Party branch (optional)',
    enrolmentCode: 'Enrolment code (if you have one)',
    quizAlreadyPassed: 'You have passed this quiz.',
    quizNoAttempts: 'No attempts left.',
    signIn: 'Sign in',
    signOut: 'Sign out',
    signedInAs: 'Signed in: {name}',
    quizSubmit: 'Submit answers',
    quizSending: 'Submitting…',
    quizTrue: 'True',
    quizFalse: 'False',
    quizSingle: 'Single choice',
    quizMultiple: 'Multiple choice',
    quizJudge: 'True or false',
    quizPassed: 'Passed — well done!',
    quizFailed: 'Not passed this time.',
    quizScore: 'Score: {raw}/{max}',
    quizAttemptsLeft: 'Attempts left: {n}',
    quizRetryAfter: 'You can try again in {s} s',
    quizHallComplete: 'You have completed this hall!',
    quizRight: 'Correct',
    quizWrong: 'Wrong',
    quizUnanswered: 'Please answer every question first.',
    quizUnavailable: 'The quiz service is unavailable: {error}',
    quizRetry: 'Try again',
    xrSignIn: 'Sign in in the browser before answering in VR.',
    xrNext: 'Next',
    xrPrev: 'Back',
    online: '{n} online',
    tourRunning: '{name} is leading a tour',
    follow: 'Follow the trainer',
    unfollow: 'Stop following',
    following: 'Following {name}',
    tourStart: 'Start tour',
    tourEnd: 'End tour',
    tourGoto: 'Take everyone to',
    tourGather: 'Gather here',
    tourFollowers: 'Followers: {n}',
    tourExhibit: 'Choose an exhibit',
    tourEnded: 'The tour has ended',
    trainerDenied: 'The trainer key was not accepted; you joined as a member.',
    trainerOn: 'Trainer mode',
    reloaded: 'The hall was updated',
    buildError: 'Build failed: {text}',
    offline: 'Connection lost, reconnecting…',
    narration: 'Narration',
    portalTo: 'To',
    netOnline: 'Online',
    netOffline: 'Offline',
    keep: 'Keep for offline',
    keepTitle: 'Download the whole hall to visit it without a network',
    keeping: 'Saving {percent}% ({done}/{total})',
    kept: 'Kept for offline · {mb} MB',
    keptPartial: 'Partly kept · {mb} MB',
    visited: 'Cached from a visit · {mb} MB',
    removeKept: 'Remove',
    keepFailed: 'Could not keep it: {error}',
    noSpace: 'Not enough space: {need} MB needed, {free} MB left. Remove another hall first.',
    notOffline: 'Not available offline',
    storageSummary: 'Kept for offline: {halls} halls, {mb} MB',
    storageQuota: '{used} MB used of {quota} MB',
    storagePersisted: 'storage is persistent',
    storageNotPersisted: 'the browser may clear it when space runs short',
  },
};

const KEY = 'halls.lang';
const listeners = new Set();
let lang = readLang();

function readLang() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch { /* storage blocked */ }
  return 'zh';
}

export function getLang() { return lang; }

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  try { localStorage.setItem(KEY, lang); } catch { /* storage blocked */ }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  applyStatic();
  for (const listener of listeners) listener(lang);
}

export function onLangChange(listener) { listeners.add(listener); }

/** A UI string with {placeholders} filled in. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** One language of a content text: {zh, en}, a plain string or null. English falls back to Chinese. */
export function pick(text) {
  if (text === null || text === undefined) return '';
  if (typeof text === 'string') return text;
  return (lang === 'en' && text.en) ? text.en : (text.zh ?? text.en ?? '');
}

/** Fill elements marked data-i18n (text), data-i18n-label (aria-label and title). */
export function applyStatic(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-label]')) {
    node.setAttribute('aria-label', t(node.dataset.i18nLabel));
    node.title = t(node.dataset.i18nLabel);
  }
}

/** A button that toggles the language. */
export function bindLanguageButton(button) {
  const label = () => {
    button.textContent = t('language');
    button.setAttribute('aria-label', t('languageLabel'));
    button.lang = lang === 'zh' ? 'en' : 'zh-CN';
  };
  button.addEventListener('click', () => setLang(lang === 'zh' ? 'en' : 'zh'));
  onLangChange(label);
  label();
}
