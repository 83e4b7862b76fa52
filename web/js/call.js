// call.js — the coaching call page (call.html).
//
// call.html#token=TOKEN joins at once (a fragment never reaches the server,
// so the token stays out of its logs); without one a form asks for it.
// Optional fragment fields: name=Display%20Name, room=ROOM (for a token
// valid for any room).
//
// Order: connect, join (a full room or a bad token is known before the
// camera is asked for), then camera and microphone, then publish. room.js
// keeps us in the call when a connection drops (rejoin with backoff); this
// file puts the call on screen: tiles, mute, chat, the booked slot's time
// left, the connection quality, and a message for every failure.
//
// For tests, window.tribu = {state, participants, you, error, reconnects,
// remoteVideos(), stats(), quality()}.

import { initI18n, locale, onLangChange, t } from './i18n.js';
import { RoomConnection, RECONNECT_DELAYS_MS } from './room.js';
import {
  $, appendChat, attach, audioMuted, clearNotice, clock, initials, joinError, mediaOf, notify,
  openLocalMedia, readFragment, renderQuality, setStatus, tokenAtFault, tokenFromInput, videoMuted,
  wireChat,
} from './ui.js';

initI18n();

/* ---- state ---- */

let state = 'idle'; // idle | form | joining | joined | reconnecting | left | error
let lastError = null; // {code, message}
let room = null; // RoomConnection
let localStream = null;
let you = null;
let roomKind = null;
let joinArgs = null; // {token, name, room}: to join again
const participants = new Map(); // participant_id -> participant object (the others)
const tiles = new Map(); // participant_id -> <figure>
let micMuted = false;
let cameraMuted = false;
let clockOffsetMs = 0; // server time - local time
let slotEndsMs = 0;
let endedMsg = { title: 'call.leftTitle', button: 'call.rejoin' };

function setState(next) {
  state = next;
  document.body.dataset.state = next;
}

function show(view) {
  for (const id of ['join-view', 'call-view', 'ended-view']) $(id).hidden = id !== view;
}

function renderEnded() {
  $('ended-title').textContent = t(endedMsg.title);
  $('rejoin-button').textContent = t(endedMsg.button);
}

/** Out of the call because of CODE: KEY in the banner, then the join form
 * (FORM: the token is at fault) or the end panel titled TITLE. */
function fail(code, message, { key, params = {} }, { title = 'call.interrupted', form = false } = {}) {
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

/* ---- participants on screen ---- */

function tileFor(p) {
  let tile = tiles.get(p.participant_id);
  if (!tile) {
    tile = $('remote-tile').content.firstElementChild.cloneNode(true);
    tile.dataset.participant = p.participant_id;
    tiles.set(p.participant_id, tile);
    $('remotes').append(tile);
  }
  return tile;
}

function renderParticipant(p) {
  const tile = tileFor(p);
  const am = audioMuted(p);
  const vm = videoMuted(p);
  tile.querySelector('.name').textContent = p.name;
  tile.querySelector('.initials').textContent = initials(p.name);
  tile.dataset.audioMuted = String(am);
  tile.dataset.videoMuted = String(vm);
  tile.querySelector('.badge.mic-off').hidden = !am;
  tile.querySelector('.badge.mic-off').textContent = t('common.micOff');
  tile.querySelector('.badge.cam-off').hidden = !vm;
  tile.querySelector('.badge.cam-off').textContent = t('common.cameraOff');
  tile.querySelector('.hint').textContent = t(vm ? 'common.cameraOff' : 'call.waitingVideo');
  tile.setAttribute('aria-label', p.name);
  updateWaiting();
}

function addParticipant(p) {
  participants.set(p.participant_id, p);
  renderParticipant(p);
}

function removeParticipant(id) {
  participants.delete(id);
  tiles.get(id)?.remove();
  tiles.delete(id);
  updateWaiting();
}

function clearParticipants() {
  for (const id of [...tiles.keys()]) removeParticipant(id);
}

function updateWaiting() {
  $('waiting').hidden = participants.size > 0;
  $('call-view').dataset.remotes = String(participants.size);
}

/** Matches what the subscribe connection receives to the tiles. */
function onRemoteMedia(list) {
  for (const [id, tile] of tiles) {
    const { video, audio } = mediaOf(list, id);
    const blocked = () => ($('sound-button').hidden = false);
    attach(tile.querySelector('video'), video?.track, blocked);
    attach(tile.querySelector('audio'), audio?.track, blocked);
    tile.dataset.hasVideo = String(!!video);
  }
}

/* ---- the booked slot and the quality, once a second ---- */

function renderSlot() {
  const el = $('slot-timer');
  if (!slotEndsMs || state !== 'joined') {
    el.hidden = true;
    return;
  }
  const left = slotEndsMs - (Date.now() + clockOffsetMs);
  el.hidden = false;
  el.textContent = left > 0 ? t('call.slotLeft', { time: clock(left) }) : t('call.slotOver');
}

let ticks = 0;
function tick() {
  renderSlot();
  if (state === 'joined' && room && ticks++ % 2 === 0)
    room.quality().then(renderQuality).catch(() => {});
}

function renderRoomLabel() {
  $('room-label').textContent = roomKind ? t(roomKind === 'workshop' ? 'common.workshop' : 'call.coaching') : '';
}

/* ---- the call ---- */

function subscribe(r) {
  r.on('participant-joined', ({ participant }) => {
    addParticipant(participant);
    appendChat({ text: t('chat.joined', { name: participant.name }) }, { system: true });
  });
  r.on('participant-left', ({ participant_id }) => {
    const p = participants.get(participant_id);
    removeParticipant(participant_id);
    if (p) appendChat({ text: t('chat.left', { name: p.name }) }, { system: true });
  });
  r.on('participant-updated', ({ participant }) => {
    if (participant.participant_id === you?.participant_id) return;
    participants.set(participant.participant_id, participant);
    renderParticipant(participant);
  });
  r.on('chat', (m) => appendChat(m, { mine: m.participant_id === you?.participant_id }));
  r.on('slot-ending', ({ ends_at_ms }) => {
    slotEndsMs = ends_at_ms;
    const at = new Date(ends_at_ms).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
    notify('call.slotEnding', { at }, { code: 'slot-ending', level: 'info' });
  });
  r.on('media-state', ({ pc, state: st, reason }) => {
    if (st === 'failed') console.warn(`tribu: ${pc} media failed: ${reason}`);
  });
}

/** The join response: on screen (first join or rejoin). */
function onJoined(data, { rejoin }) {
  you = data.you;
  roomKind = data.room.kind;
  clockOffsetMs = (data.server_time_ms ?? Date.now()) - Date.now();
  slotEndsMs = data.room.slot_ends_ms ?? 0;
  setState('joined');
  setStatus('status.inCall');
  show('call-view');
  renderRoomLabel();
  $('room-label').title = data.room.id;
  clearParticipants();
  for (const p of data.participants) addParticipant(p);
  updateWaiting();
  renderSlot();
  if (rejoin) {
    notify('call.reconnected', {}, { code: 'reconnected', level: 'info' });
    appendChat({ text: t('chat.reconnected') }, { system: true });
    // The server starts us unmuted: say again what we had.
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
  if (err.code === 'connection-lost') {
    fail('connection-lost', err.message, { key: 'err.lost' });
  } else {
    fail(err.code, err.message, joinError(err), { title: 'call.cannotJoin', form: tokenAtFault(err) });
  }
  setStatus('status.disconnected');
}

function onRemoved(reason) {
  teardown();
  const key = reason === 'replaced' ? 'removed.replaced' : 'removed.other';
  fail(`removed-${reason}`, reason, { key });
  setStatus('status.outside');
}

async function startMedia() {
  const { stream, warning } = await openLocalMedia();
  if (warning) notify(warning.key, {}, { code: 'camera', level: 'warning' });
  if (!stream) return;
  if ((state !== 'joined' && state !== 'reconnecting') || !room) {
    // Left (or cut off) while the browser was asking for the devices.
    for (const track of stream.getTracks()) track.stop();
    return;
  }
  localStream = stream;
  $('local-video').srcObject = stream;
  $('mic-button').disabled = stream.getAudioTracks().length === 0;
  $('camera-button').disabled = stream.getVideoTracks().length === 0;
  $('local-tile').dataset.hasVideo = String(stream.getVideoTracks().length > 0);
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
      if (pc === 'subscribe' && st === 'connected' && state === 'joined') setStatus('status.inCall');
      if (st === 'disconnected' && state === 'joined') setStatus('status.unstable');
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
    fail(err.code, err.message, joinError(err), { title: 'call.cannotJoin', form: tokenAtFault(err) });
    setStatus(err.code === 'connection-failed' ? 'status.disconnected' : 'status.outside');
    return;
  }
  onJoined(data, { rejoin: false });
  await startMedia();
}

/** Stops media and the connection; leaves the page's views alone. */
function teardown() {
  const r = room;
  room = null;
  r?.close();
  for (const track of localStream?.getTracks() ?? []) track.stop();
  localStream = null;
  $('local-video').srcObject = null;
  clearParticipants();
  you = null;
  slotEndsMs = 0;
  micMuted = cameraMuted = false;
  renderLocalMute();
  renderSlot();
  $('quality').hidden = true;
}

async function leave() {
  const r = room;
  if (r && state === 'joined') await r.leave();
  teardown();
  clearNotice();
  setState('left');
  setStatus('status.outside');
  endedMsg = { title: 'call.leftTitle', button: 'call.rejoin' };
  renderEnded();
  show('ended-view');
  $('rejoin-button').focus();
}

/* ---- controls ---- */

function renderLocalMute() {
  const mic = $('mic-button');
  mic.setAttribute('aria-pressed', String(micMuted));
  mic.querySelector('.label').textContent = t(micMuted ? 'control.micOn' : 'control.micOff');
  const cam = $('camera-button');
  cam.setAttribute('aria-pressed', String(cameraMuted));
  cam.querySelector('.label').textContent = t(cameraMuted ? 'control.cameraOn' : 'control.cameraOff');
  $('local-tile').dataset.videoMuted = String(cameraMuted);
  $('local-tile').querySelector('.badge.mic-off').hidden = !micMuted;
}

async function setMuted(kind, muted) {
  if (kind === 'audio') micMuted = muted;
  else cameraMuted = muted;
  room?.setEnabled(kind, !muted);
  renderLocalMute();
  try {
    await room?.request('mute', { kind, muted });
  } catch (err) {
    console.warn('tribu: mute not sent', err);
  }
}

$('mic-button').addEventListener('click', () => setMuted('audio', !micMuted));
$('camera-button').addEventListener('click', () => setMuted('video', !cameraMuted));
$('leave-button').addEventListener('click', () => leave());
$('rejoin-button').addEventListener('click', () => joinArgs && join(joinArgs));
$('other-token-button').addEventListener('click', () => {
  clearNotice();
  setState('form');
  show('join-view');
  $('join-token').focus();
});
$('sound-button').addEventListener('click', () => {
  for (const el of document.querySelectorAll('#remotes audio, #remotes video')) el.play().catch(() => {});
  $('sound-button').hidden = true;
});

wireChat((text) => {
  // Not in the room (rejoining): refused, so the text stays in the box.
  if (!room || state !== 'joined') return Promise.reject(new Error('not in the room'));
  return room.request('chat', { text });
});

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = tokenFromInput($('join-token').value);
  if (!token) return;
  const name = $('join-name').value.trim() || undefined;
  join({ token, name, room: joinArgs?.room });
});

onLangChange(() => {
  renderLocalMute();
  renderRoomLabel();
  renderEnded();
  renderSlot();
  for (const p of participants.values()) renderParticipant(p);
});

window.addEventListener('pagehide', () => room?.close());
setInterval(tick, 1000);

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
  get reconnects() {
    return room?.reconnects ?? 0;
  },
  /** The <video> of every other participant. */
  remoteVideos() {
    return [...document.querySelectorAll('#remotes video')];
  },
  /** For each remote video: {participant_id, framesDecoded, frameWidth,
   * frameHeight, packetsReceived, videoWidth, currentTime}. */
  async stats() {
    const rows = room ? await room.remoteStats() : [];
    return rows.map((r) => {
      const video = tiles.get(r.participant_id)?.querySelector('video');
      return { ...r, videoWidth: video?.videoWidth ?? 0, currentTime: video?.currentTime ?? 0 };
    });
  },
  quality() {
    return room ? room.quality() : Promise.resolve({ level: 'unknown' });
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
