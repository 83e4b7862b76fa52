// workshop.js — the workshop page (workshop.html).
//
// workshop.html#token=TOKEN joins at once (as call.html; name= and room=
// too). Everyone sees a grid of participants (video and name; the active
// speaker ringed), or a spotlight layout (one large tile, the others in a
// strip), a chat, a raise-hand button, the countdown of a timed exercise
// and who reads now. Mentors and admins also get the facilitator's panel:
// start an exercise and pens down, the reading order (from the roster or
// shuffled, next, skip), the raised hands, mute or remove someone, lock
// the room.
//
// The workshop messages (docs/protocol.md): requests exercise-start,
// exercise-end, reading-order-set, reading-next, reading-skip, mute (with
// participant_id), remove, lock, raise-hand, lower-hand; events exercise,
// reading, spotlight, hands, active-speaker, room-updated, removed; the
// join data's `workshop` holds the state a late joiner needs. A server
// that does not know a request answers unknown-type: the banner says the
// function is not available, nothing breaks.
//
// For tests, window.tribu = {state, you, participants, error, hands,
// exercise, reading, spotlight, activeSpeaker, layout, remoteVideos(),
// stats(), send(type, fields), request(type, fields)}.

import { initI18n, onLangChange, t } from './i18n.js';
import { RoomConnection, RECONNECT_DELAYS_MS } from './room.js';
import {
  $, appendChat, attach, audioMuted, clearNotice, clock, initials, joinError, mediaOf, notify,
  openLocalMedia, readFragment, renderQuality, requestError, setStatus, tokenAtFault,
  tokenFromInput, videoMuted, wireChat,
} from './ui.js';

initI18n();

const FACILITATORS = new Set(['mentor', 'admin']);

/* ---- state ---- */

let state = 'idle'; // idle | form | joining | joined | reconnecting | left | error
let lastError = null;
let room = null;
let localStream = null;
let you = null; // our participant object (updated by participant-updated)
let joinArgs = null;
let roomInfo = null; // the room object
const participants = new Map(); // participant_id -> participant (the others), join order
const tiles = new Map(); // participant_id -> <figure> (ours included)
let lastMedia = [];
let micMuted = false;
let cameraMuted = false;
let clockOffsetMs = 0;
let exercise = null; // the last exercise event's data
let reading = null; // {order, current, index, done}
let hands = []; // [{participant_id, raised_at_ms}]
let spotlight = null; // participant id the server spotlights
let activeSpeaker = null;
let layout = 'grid'; // grid | spotlight
let endedMsg = { title: 'ws.leftTitle', button: 'call.rejoin' };

const isFacilitator = () => FACILITATORS.has(you?.role);

function setState(next) {
  state = next;
  document.body.dataset.state = next;
}

function show(view) {
  for (const id of ['join-view', 'ws-view', 'ended-view']) $(id).hidden = id !== view;
}

function renderEnded() {
  $('ended-title').textContent = t(endedMsg.title);
  $('rejoin-button').textContent = t(endedMsg.button);
}

function fail(code, message, { key, params = {} }, { title = 'ws.interrupted', form = false } = {}) {
  lastError = { code, message };
  setState('error');
  notify(key, params, { code });
  if (form) {
    show('join-view');
    $('join-token').focus();
    return;
  }
  endedMsg = { title, button: 'call.retry' };
  renderEnded();
  show('ended-view');
  $('rejoin-button').focus();
}

/** Sends a workshop request; a refusal goes to the banner. Resolves the
 * data, or null when refused. */
async function send(type, fields = {}) {
  if (!room) return null;
  try {
    return await room.request(type, fields);
  } catch (err) {
    lastError = { code: err.code, message: err.message };
    const { key, params } = requestError(err);
    notify(key, { ...params, what: type }, { code: err.code, level: 'warning' });
    return null;
  }
}

/* ---- names ---- */

function nameOf(id) {
  if (id && id === you?.participant_id) return t('common.you');
  return participants.get(id)?.name ?? t('ws.someone');
}

/* ---- tiles ---- */

function tileFor(id) {
  let tile = tiles.get(id);
  if (!tile) {
    tile = $('tile-template').content.firstElementChild.cloneNode(true);
    tile.dataset.participant = id;
    tiles.set(id, tile);
    if (id === you?.participant_id) {
      tile.classList.add('local');
      tile.querySelector('audio').remove();
      $('grid').prepend(tile);
    } else {
      $('grid').append(tile);
    }
  }
  return tile;
}

function renderTile(p) {
  const mine = p.participant_id === you?.participant_id;
  const tile = tileFor(p.participant_id);
  const am = (mine ? micMuted : audioMuted(p)) || !!p.forced_muted?.audio;
  const vm = (mine ? cameraMuted : videoMuted(p)) || !!p.forced_muted?.video;
  const hand = !!p.hand_raised || hands.some((h) => h.participant_id === p.participant_id);
  const speaking = activeSpeaker === p.participant_id;
  tile.querySelector('.name').textContent = mine ? `${p.name} (${t('common.you')})` : p.name;
  tile.querySelector('.initials').textContent = initials(p.name);
  tile.querySelector('.hint').textContent = t(vm ? 'common.cameraOff' : 'call.waitingVideo');
  tile.dataset.audioMuted = String(am);
  tile.dataset.videoMuted = String(vm);
  tile.dataset.hand = String(hand);
  tile.dataset.speaking = String(speaking);
  const badge = (cls, on, key) => {
    const b = tile.querySelector(`.badge.${cls}`);
    b.hidden = !on;
    b.textContent = t(key);
  };
  badge('mic-off', am, 'common.micOff');
  badge('cam-off', vm, 'common.cameraOff');
  badge('hand', hand, 'ws.handUp');
  badge('speaking', speaking, 'ws.speaking');
  tile.setAttribute('aria-label', p.name);
}

function renderAllTiles() {
  if (you) renderTile(you);
  for (const p of participants.values()) renderTile(p);
  renderSpotlight();
}

function removeTile(id) {
  tiles.get(id)?.remove();
  tiles.delete(id);
}

function clearRoster() {
  participants.clear();
  for (const id of [...tiles.keys()]) removeTile(id);
}

/** Which tile is large in the spotlight layout: the server's spotlight,
 * else the active speaker, else the first other participant. */
function spotlitId() {
  if (spotlight && tiles.has(spotlight)) return spotlight;
  if (activeSpeaker && tiles.has(activeSpeaker)) return activeSpeaker;
  return participants.keys().next().value ?? you?.participant_id ?? null;
}

/** Tells the server the layout (request `view`) when it changes: the
 * large tile gets the high simulcast layer, the others the low one. */
let sentView = '';
function sendView(lit) {
  const view = {
    mode: layout,
    spotlight: layout === 'spotlight' && lit && lit !== you?.participant_id ? lit : null,
  };
  const key = JSON.stringify(view);
  if (!room || key === sentView) return;
  sentView = key;
  room.request('view', view).catch(() => (sentView = ''));
}

function renderSpotlight() {
  const lit = spotlitId();
  sendView(lit);
  for (const [id, tile] of tiles) tile.dataset.spotlit = String(layout === 'spotlight' && id === lit);
  $('ws-view').dataset.layout = layout;
  const button = $('layout-button');
  button.setAttribute('aria-pressed', String(layout === 'spotlight'));
  button.querySelector('.label').textContent = t(layout === 'spotlight' ? 'control.grid' : 'control.spotlight');
}

function onRemoteMedia(list) {
  lastMedia = list;
  for (const [id, tile] of tiles) {
    if (id === you?.participant_id) continue;
    const { video, audio } = mediaOf(list, id);
    const blocked = () => ($('sound-button').hidden = false);
    attach(tile.querySelector('video'), video?.track, blocked);
    attach(tile.querySelector('audio'), audio?.track, blocked);
    tile.dataset.hasVideo = String(!!video);
  }
}

/* ---- workshop state on screen ---- */

function renderExercise() {
  const el = $('exercise-timer');
  const active = exercise?.active && state === 'joined';
  el.hidden = !active;
  if (active) {
    const left = exercise.ends_at_ms - (Date.now() + clockOffsetMs);
    const time = clock(left);
    el.textContent = exercise.title
      ? t('ws.exerciseNamed', { title: exercise.title, time })
      : t('ws.exercise', { time });
    el.dataset.leftMs = String(Math.max(0, left));
  }
  $('exercise-end').disabled = !exercise?.active;
}

function renderReading() {
  const info = $('reading-info');
  const list = $('reading-list');
  list.replaceChildren();
  const order = reading?.order ?? [];
  for (const [i, id] of order.entries()) {
    const li = document.createElement('li');
    li.textContent = nameOf(id);
    li.dataset.participant = id;
    if (id === reading.current && !reading.done) li.setAttribute('aria-current', 'true');
    if (i < (reading.index ?? 0) && id !== reading.current) li.classList.add('done');
    list.append(li);
  }
  if (!reading || order.length === 0) {
    info.hidden = true;
  } else if (reading.done || !reading.current) {
    info.hidden = false;
    info.textContent = t('ws.readingDone');
  } else {
    info.hidden = false;
    info.textContent = t('ws.readingNow', { name: nameOf(reading.current), n: (reading.index ?? 0) + 1,
      total: order.length });
  }
  const hasOrder = order.length > 0 && !reading?.done;
  $('reading-next').disabled = !hasOrder;
  $('reading-skip').disabled = !hasOrder;
}

function renderHands() {
  const list = $('hands-list');
  list.replaceChildren();
  for (const h of hands) {
    const li = document.createElement('li');
    li.dataset.participant = h.participant_id;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = nameOf(h.participant_id);
    const lower = document.createElement('button');
    lower.type = 'button';
    lower.className = 'button small';
    lower.textContent = t('fac.lower');
    lower.setAttribute('aria-label', t('fac.lowerOf', { name: nameOf(h.participant_id) }));
    lower.addEventListener('click', () => send('lower-hand', { participant_id: h.participant_id }));
    li.append(who, ' ', lower);
    list.append(li);
  }
  $('hands-empty').hidden = hands.length > 0;
  const mine = hands.some((h) => h.participant_id === you?.participant_id) || !!you?.hand_raised;
  const button = $('hand-button');
  button.setAttribute('aria-pressed', String(mine));
  button.querySelector('.label').textContent = t(mine ? 'control.lowerHand' : 'control.raiseHand');
}

function personButton(label, aria, onClick, pressed) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'button small';
  b.textContent = label;
  b.setAttribute('aria-label', aria);
  if (pressed !== undefined) b.setAttribute('aria-pressed', String(pressed));
  b.addEventListener('click', onClick);
  return b;
}

function renderPeople() {
  const list = $('people-list');
  list.replaceChildren();
  for (const p of participants.values()) {
    const li = document.createElement('li');
    li.dataset.participant = p.participant_id;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = p.name;
    const forcedAudio = !!p.forced_muted?.audio;
    const forcedVideo = !!p.forced_muted?.video;
    li.append(
      who,
      personButton(t(forcedAudio ? 'fac.unmuteMic' : 'fac.muteMic'),
        t(forcedAudio ? 'fac.unmuteMicOf' : 'fac.muteMicOf', { name: p.name }),
        () => send('mute', { participant_id: p.participant_id, kind: 'audio', muted: !forcedAudio }),
        forcedAudio),
      personButton(t(forcedVideo ? 'fac.unmuteCam' : 'fac.muteCam'),
        t(forcedVideo ? 'fac.unmuteCamOf' : 'fac.muteCamOf', { name: p.name }),
        () => send('mute', { participant_id: p.participant_id, kind: 'video', muted: !forcedVideo }),
        forcedVideo),
      personButton(t('fac.remove'), t('fac.removeOf', { name: p.name }), () => {
        if (window.confirm(t('fac.removeConfirm', { name: p.name })))
          send('remove', { participant_id: p.participant_id });
      }),
    );
    list.append(li);
  }
  const locked = !!roomInfo?.locked;
  $('lock-button').setAttribute('aria-pressed', String(locked));
  $('lock-button').textContent = t(locked ? 'fac.unlock' : 'fac.lock');
  $('locked-badge').hidden = !locked;
}

function renderFacilitator() {
  $('facilitator').hidden = !isFacilitator();
  if (isFacilitator()) renderPeople();
  else $('locked-badge').hidden = !roomInfo?.locked;
}

/** Our own mute state: ours, or forced by a facilitator. */
function renderLocalMute() {
  const forced = you?.forced_muted ?? {};
  const mic = $('mic-button');
  const cam = $('camera-button');
  const micOff = micMuted || !!forced.audio;
  const camOff = cameraMuted || !!forced.video;
  mic.setAttribute('aria-pressed', String(micOff));
  mic.querySelector('.label').textContent = t(forced.audio ? 'control.micForced' : micOff ? 'control.micOn' : 'control.micOff');
  cam.setAttribute('aria-pressed', String(camOff));
  cam.querySelector('.label').textContent = t(forced.video ? 'control.cameraForced' : camOff ? 'control.cameraOn' : 'control.cameraOff');
  const hasAudio = !!localStream?.getAudioTracks().length;
  const hasVideo = !!localStream?.getVideoTracks().length;
  mic.disabled = !hasAudio || !!forced.audio;
  cam.disabled = !hasVideo || !!forced.video;
  room?.setEnabled('audio', !micOff);
  room?.setEnabled('video', !camOff);
  if (you) renderTile(you);
}

function renderAll() {
  renderAllTiles();
  renderExercise();
  renderReading();
  renderHands();
  renderFacilitator();
  renderLocalMute();
  $('room-label').textContent = t('common.workshop');
}

/* ---- events ---- */

function applyWorkshop(w) {
  exercise = w?.exercise ?? null;
  reading = w?.reading ?? null;
  hands = w?.hands ?? [];
  spotlight = w?.spotlight ?? null;
  activeSpeaker = w?.active_speaker ?? null;
  if (spotlight) layout = 'spotlight';
}

function onParticipant(p) {
  if (p.participant_id === you?.participant_id) {
    const wasForced = you.forced_muted ?? {};
    you = { ...you, ...p };
    const now = p.forced_muted ?? {};
    if (now.audio && !wasForced.audio) notify('ws.forcedMic', {}, { code: 'forced-mute', level: 'info' });
    renderLocalMute();
    renderHands();
    return;
  }
  participants.set(p.participant_id, p);
  renderTile(p);
  renderSpotlight();
  if (isFacilitator()) renderPeople();
  onRemoteMedia(lastMedia);
}

function subscribe(r) {
  r.on('participant-joined', ({ participant }) => {
    onParticipant(participant);
    appendChat({ text: t('chat.joined', { name: participant.name }) }, { system: true });
  });
  r.on('participant-left', ({ participant_id }) => {
    const p = participants.get(participant_id);
    participants.delete(participant_id);
    removeTile(participant_id);
    hands = hands.filter((h) => h.participant_id !== participant_id);
    renderSpotlight();
    renderHands();
    renderReading();
    if (isFacilitator()) renderPeople();
    if (p) appendChat({ text: t('chat.left', { name: p.name }) }, { system: true });
  });
  r.on('participant-updated', ({ participant }) => onParticipant(participant));
  r.on('chat', (m) => appendChat(m, { mine: m.participant_id === you?.participant_id }));
  r.on('exercise', (data) => {
    if (typeof data.server_time_ms === 'number') clockOffsetMs = data.server_time_ms - Date.now();
    const was = exercise?.active;
    exercise = data;
    renderExercise();
    if (data.active && !was)
      appendChat({ text: t('chat.exerciseStarted', { title: data.title || t('ws.exerciseDefault') }) }, { system: true });
    if (!data.active && was) {
      notify('ws.pensDown', {}, { code: 'exercise-ended', level: 'info' });
      appendChat({ text: t('ws.pensDown') }, { system: true });
    }
  });
  r.on('reading', (data) => {
    reading = data;
    renderReading();
  });
  r.on('spotlight', ({ participant_id }) => {
    spotlight = participant_id ?? null;
    if (spotlight) layout = 'spotlight';
    renderSpotlight();
  });
  r.on('hands', ({ queue }) => {
    hands = queue ?? [];
    renderHands();
    renderAllTiles();
  });
  r.on('active-speaker', ({ participant_id }) => {
    activeSpeaker = participant_id ?? null;
    renderAllTiles();
  });
  r.on('room-updated', ({ room: updated }) => {
    roomInfo = { ...roomInfo, ...updated };
    renderFacilitator();
  });
}

function onJoined(data, { rejoin }) {
  sentView = ''; // a new server-side participant: no view yet
  clearRoster();
  you = data.you;
  roomInfo = data.room;
  clockOffsetMs = (data.server_time_ms ?? Date.now()) - Date.now();
  applyWorkshop(data.workshop);
  setState('joined');
  setStatus('status.inCall');
  show('ws-view');
  $('room-label').title = data.room.id;
  tileFor(you.participant_id);
  if (localStream) {
    tiles.get(you.participant_id).querySelector('video').srcObject = localStream;
    tiles.get(you.participant_id).dataset.hasVideo = String(localStream.getVideoTracks().length > 0);
  }
  for (const p of data.participants) {
    participants.set(p.participant_id, p);
    renderTile(p);
  }
  renderAll();
  if (rejoin) {
    notify('call.reconnected', {}, { code: 'reconnected', level: 'info' });
    appendChat({ text: t('chat.reconnected') }, { system: true });
    if (micMuted) room.request('mute', { kind: 'audio', muted: true }).catch(() => {});
    if (cameraMuted) room.request('mute', { kind: 'video', muted: true }).catch(() => {});
  }
}

function onReconnecting({ attempt }) {
  setState('reconnecting');
  setStatus('status.reconnecting');
  notify('call.reconnecting', { attempt, max: RECONNECT_DELAYS_MS.length },
    { code: 'reconnecting', level: 'warning' });
}

function onLost(err) {
  teardown();
  if (err.code === 'connection-lost') fail('connection-lost', err.message, { key: 'err.lost' });
  else fail(err.code, err.message, joinError(err), { title: 'ws.cannotJoin', form: tokenAtFault(err) });
  setStatus('status.disconnected');
}

function onRemoved(reason) {
  teardown();
  fail(`removed-${reason}`, reason, { key: reason === 'replaced' ? 'removed.replaced' : 'removed.other' });
  setStatus('status.outside');
}

/* ---- joining and leaving ---- */

async function startMedia() {
  const { stream, warning } = await openLocalMedia();
  if (warning) notify(warning.key, {}, { code: 'camera', level: 'warning' });
  if (!stream) return;
  if ((state !== 'joined' && state !== 'reconnecting') || !room) {
    for (const track of stream.getTracks()) track.stop();
    return;
  }
  localStream = stream;
  const tile = tiles.get(you?.participant_id);
  if (tile) {
    tile.querySelector('video').srcObject = stream;
    tile.dataset.hasVideo = String(stream.getVideoTracks().length > 0);
  }
  renderLocalMute();
  try {
    await room.publish(stream);
  } catch (err) {
    if (state !== 'joined') return;
    console.error('tribu: publish failed', err);
    notify('err.publish', {}, { code: 'publish-failed', level: 'warning' });
  }
}

async function join(args) {
  if (state === 'joining' || state === 'joined' || state === 'reconnecting') return;
  joinArgs = args;
  lastError = null;
  clearNotice();
  setState('joining');
  setStatus('status.connecting');
  show(null);
  $('chat-log').replaceChildren();
  const r = new RoomConnection(args, {
    onJoined,
    onReconnecting,
    onLost,
    onRemoved,
    onRemoteMedia,
    onMediaState: (pc, st) => {
      if (st === 'disconnected' && state === 'joined') setStatus('status.unstable');
      if (st === 'connected' && state === 'joined') setStatus('status.inCall');
    },
    onPublishError: (err) => console.error('tribu: publish after rejoin failed', err),
  });
  room = r;
  subscribe(r);
  let data;
  try {
    data = await r.join();
  } catch (err) {
    teardown();
    fail(err.code, err.message, joinError(err), { title: 'ws.cannotJoin', form: tokenAtFault(err) });
    setStatus('status.outside');
    return;
  }
  onJoined(data, { rejoin: false });
  await startMedia();
}

function teardown() {
  const r = room;
  room = null;
  r?.close();
  for (const track of localStream?.getTracks() ?? []) track.stop();
  localStream = null;
  clearRoster();
  you = null;
  exercise = reading = spotlight = activeSpeaker = null;
  hands = [];
  micMuted = cameraMuted = false;
  $('quality').hidden = true;
  $('exercise-timer').hidden = true;
  $('reading-info').hidden = true;
  $('locked-badge').hidden = true;
}

async function leave() {
  if (room && state === 'joined') await room.leave();
  teardown();
  clearNotice();
  setState('left');
  setStatus('status.outside');
  endedMsg = { title: 'ws.leftTitle', button: 'call.rejoin' };
  renderEnded();
  show('ended-view');
  $('rejoin-button').focus();
}

/* ---- controls ---- */

async function setMuted(kind, muted) {
  if (kind === 'audio') micMuted = muted;
  else cameraMuted = muted;
  renderLocalMute();
  try {
    await room?.request('mute', { kind, muted });
  } catch (err) {
    console.warn('tribu: mute not sent', err);
  }
}

$('mic-button').addEventListener('click', () => setMuted('audio', !micMuted));
$('camera-button').addEventListener('click', () => setMuted('video', !cameraMuted));
$('hand-button').addEventListener('click', () => {
  const raised = $('hand-button').getAttribute('aria-pressed') === 'true';
  send(raised ? 'lower-hand' : 'raise-hand', {});
});
$('layout-button').addEventListener('click', () => {
  layout = layout === 'grid' ? 'spotlight' : 'grid';
  renderSpotlight();
});
$('leave-button').addEventListener('click', () => leave());
$('rejoin-button').addEventListener('click', () => joinArgs && join(joinArgs));
$('other-token-button').addEventListener('click', () => {
  clearNotice();
  setState('form');
  show('join-view');
  $('join-token').focus();
});
$('sound-button').addEventListener('click', () => {
  for (const el of document.querySelectorAll('#grid audio, #grid video')) el.play().catch(() => {});
  $('sound-button').hidden = true;
});

$('exercise-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const minutes = Number($('exercise-minutes').value);
  if (!Number.isInteger(minutes) || minutes < 1) {
    $('exercise-minutes').focus();
    return;
  }
  const title = $('exercise-title').value.trim();
  send('exercise-start', title ? { minutes, title } : { minutes });
});
$('exercise-end').addEventListener('click', () => send('exercise-end', {}));
$('reading-roster').addEventListener('click', () => {
  // The roster in join order, facilitators left out: they do not read.
  const order = [...participants.values()].filter((p) => !FACILITATORS.has(p.role)).map((p) => p.participant_id);
  send('reading-order-set', { order });
});
$('reading-shuffle').addEventListener('click', () => send('reading-order-set', { shuffle: true }));
$('reading-next').addEventListener('click', () => send('reading-next', {}));
$('reading-skip').addEventListener('click', () => send('reading-skip', {}));
$('lock-button').addEventListener('click', () => send('lock', { locked: !roomInfo?.locked }));

wireChat((text) => {
  // Not in the room (rejoining): refused, so the text stays in the box.
  if (!room || state !== 'joined') return Promise.reject(new Error('not in the room'));
  return room.request('chat', { text });
});

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = tokenFromInput($('join-token').value);
  if (!token) return;
  join({ token, name: $('join-name').value.trim() || undefined, room: joinArgs?.room });
});

onLangChange(() => {
  renderEnded();
  if (state === 'joined') renderAll();
});

window.addEventListener('pagehide', () => room?.close());
let ticks = 0;
setInterval(() => {
  renderExercise();
  if (state === 'joined' && room && ticks++ % 2 === 0) room.quality().then(renderQuality).catch(() => {});
}, 1000);

/* ---- for tests ---- */

window.tribu = {
  get state() {
    return state;
  },
  get error() {
    return lastError;
  },
  get you() {
    return you;
  },
  get participants() {
    return [...participants.values()];
  },
  get hands() {
    return hands;
  },
  get exercise() {
    return exercise;
  },
  get reading() {
    return reading;
  },
  get spotlight() {
    return spotlight;
  },
  get activeSpeaker() {
    return activeSpeaker;
  },
  get layout() {
    return layout;
  },
  get reconnects() {
    return room?.reconnects ?? 0;
  },
  remoteVideos() {
    return [...document.querySelectorAll('#grid .tile:not(.local) video')];
  },
  async stats() {
    const rows = room ? await room.remoteStats() : [];
    return rows.map((r) => {
      const video = tiles.get(r.participant_id)?.querySelector('video');
      return { ...r, videoWidth: video?.videoWidth ?? 0, currentTime: video?.currentTime ?? 0 };
    });
  },
  /** A request as the page's buttons send it (a refusal shows in the
   * banner); resolves the data or null. */
  send,
  /** A raw request: resolves {ok, data} or {ok: false, code}. */
  async request(type, fields = {}) {
    try {
      return { ok: true, data: await room.request(type, fields) };
    } catch (err) {
      return { ok: false, code: err.code };
    }
  },
};

/* ---- start ---- */

const fromFragment = readFragment();
if (fromFragment) {
  join(fromFragment);
} else {
  setState('form');
  setStatus(null);
  show('join-view');
}

