// Guided tours: members follow the trainer's cues (go to an exhibit, gather);
// trainers get buttons to start a tour, send everyone to an exhibit, gather
// them where the trainer stands, and end it.
import { MESSAGE, TOUR_EVENT } from './contract.js';
import { el, replace } from './dom.js';
import { onLangChange, pick, t } from './i18n.js';

export class Tour {
  /** viewer: {presence, exhibits(), travelTo(cue), whereAmI(), toast(text), narrate(text)} */
  constructor(node, viewer) {
    this.node = node;
    this.viewer = viewer;
    this.leader = null;
    this.following = false;
    this.followers = 0;
    this.role = 'member';
    this.myId = null;
    this.cues = 0;
    onLangChange(() => this.render());
  }

  welcome(message) {
    this.role = message.role;
    this.myId = message.id;
    this.following = false;
    this.leader = message.tour ? message.tour.leader : null;
    this.render();
  }

  handle(cue) {
    switch (cue.event) {
      case TOUR_EVENT.START:
        this.leader = cue.leader;
        this.followers = 0;
        break;
      case TOUR_EVENT.FOLLOWING:
        this.following = cue.on;
        this.leader = cue.leader;
        if (cue.on && cue.last) this.apply(cue.last);
        break;
      case TOUR_EVENT.FOLLOWER:
        this.followers = cue.followers;
        break;
      case TOUR_EVENT.GOTO:
      case TOUR_EVENT.GATHER:
        this.apply(cue);
        break;
      case TOUR_EVENT.NARRATE:
        this.viewer.narrate(cue.text);
        break;
      case TOUR_EVENT.END:
        this.leader = null;
        this.following = false;
        this.viewer.toast(t('tourEnded'));
        break;
      default:
        return;
    }
    this.render();
  }

  apply(cue) {
    if (!this.following || this.isLeader()) return;
    this.cues += 1;
    this.viewer.travelTo(cue);
  }

  isLeader() {
    return this.leader && this.leader.id === this.myId;
  }

  render() {
    const node = this.node;
    const parts = [];
    if (this.role === 'trainer') parts.push(this.trainerControls());
    else if (this.leader) {
      parts.push(el('span', { class: 'tour-status', text: this.following ? t('following', { name: this.leader.name }) : t('tourRunning', { name: this.leader.name }) }));
      parts.push(el('button', { type: 'button', id: 'tour-follow', class: this.following ? '' : 'primary',
        text: this.following ? t('unfollow') : t('follow'),
        onclick: () => this.viewer.presence.send({ type: MESSAGE.FOLLOW, on: !this.following }) }));
    }
    replace(node, parts);
    node.hidden = parts.length === 0;
  }

  trainerControls() {
    const presence = this.viewer.presence;
    const box = el('div', { class: 'trainer' }, el('strong', { text: t('trainerOn') }));
    if (!this.isLeader()) {
      box.append(el('button', { type: 'button', id: 'tour-start', class: 'primary', text: t('tourStart'),
        onclick: () => presence.send({ type: MESSAGE.TOUR_START }) }));
      if (this.leader) box.append(el('span', { text: t('tourRunning', { name: this.leader.name }) }));
      return box;
    }
    const select = el('select', { id: 'tour-exhibit', 'aria-label': t('tourExhibit'),
      onchange: () => { this.selected = select.value; } },
    this.viewer.exhibits().map((e) => el('option', { value: e.id, text: pick(e.title), selected: e.id === this.selected })));
    box.append(
      el('label', {}, el('span', { text: t('tourGoto') }), select),
      el('button', { type: 'button', id: 'tour-goto', text: '→', 'aria-label': t('tourGoto'),
        onclick: () => presence.send({ type: MESSAGE.TOUR_GOTO, exhibit: select.value }) }),
      el('button', { type: 'button', id: 'tour-gather', text: t('tourGather'),
        onclick: () => {
          const here = this.viewer.whereAmI();
          if (here.room) presence.send({ type: MESSAGE.TOUR_GATHER, room: here.room, p: here.floor });
        } }),
      el('button', { type: 'button', id: 'tour-end', text: t('tourEnd'), onclick: () => presence.send({ type: MESSAGE.TOUR_END }) }),
      el('span', { id: 'tour-followers', text: t('tourFollowers', { n: this.followers }) }),
    );
    return box;
  }
}
