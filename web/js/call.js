// call.js — the coaching call page (call.html).
//
// call.html#token=TOKEN joins at once (a fragment never reaches the server,
// so the token stays out of its logs); without one a form asks for it.
// Optional fragment fields: name=Display%20Name, room=ROOM (for a token
// valid for any room).
//
// Order: connect, join (a full room or a bad token is known before the
// camera is asked for), then camera and microphone, then publish. What the
// server sends us (subscriber offers, track map) is handled by peer.js from
// the moment we join; this file puts it on screen.
//
// For tests, window.tribu = {state, participants, you, error,
// remoteVideos(), stats()}.

import { Signaling } from './signaling.js';
import { MediaSession } from './peer.js';

const $ = (id) => document.getElementById(id);

/* ---- messages ---- */

const JOIN_ERRORS = {
  'room-full': 'La salle est complète : il n’y a plus de place dans cet appel.',
  'room-locked': 'La salle est verrouillée : attendez que votre mentor vous y fasse entrer.',
  forbidden: 'Votre compte ne permet pas de rejoindre les appels.',
  conflict: 'Vous êtes déjà dans cet appel.',
  'rate-limited': 'Trop de tentatives : patientez quelques secondes puis réessayez.',
  'missing-field': 'Ce lien d’accès ne précise pas la salle à rejoindre.',
  'bad-field': 'Ce lien d’accès n’est pas valide.',
};

function joinErrorText(err) {
  if (err.code === 'unauthorized') {
    if (/expired/i.test(err.message))
      return 'Votre lien d’accès a expiré : demandez-en un nouveau à l’école.';
    return 'Votre lien d’accès n’est pas valide pour cet appel : vérifiez qu’il est complet.';
  }
  if (err.code === 'connection-failed' || err.code === 'connection-lost' || err.code === 'timeout')
    return 'Impossible de joindre le serveur : vérifiez votre connexion à Internet puis réessayez.';
  return JOIN_ERRORS[err.code] ?? `L’appel n’a pas pu être rejoint (${err.code}).`;
}

function cameraErrorText(err) {
  switch (err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'L’accès à la caméra et au micro a été refusé : l’autre personne ne vous voit ni ne ' +
        'vous entend. Autorisez-les dans les réglages du navigateur, puis rechargez la page.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'Aucune caméra ni aucun micro n’a été trouvé : vous pouvez voir et entendre, ' +
        'mais pas être vu ni entendu.';
    case 'NotReadableError':
      return 'La caméra ou le micro est déjà utilisé par une autre application : fermez-la, ' +
        'puis rechargez la page.';
    default:
      return `La caméra et le micro ne sont pas disponibles (${err.name}).`;
  }
}

const REMOVED_TEXT = {
  replaced: 'Vous avez rejoint cet appel depuis un autre onglet ou appareil : cette fenêtre est déconnectée.',
  shutdown: 'Le serveur redémarre : l’appel est interrompu. Réessayez dans un instant.',
  'media-failed': 'La connexion audio et vidéo a échoué : vérifiez votre réseau puis réessayez.',
};

/* ---- state ---- */

let state = 'idle'; // idle | form | joining | joined | left | error
let lastError = null; // {code, message}
let sig = null;
let media = null;
let localStream = null;
let you = null;
let joinArgs = null; // {token, name, room}: to join again
const participants = new Map(); // participant_id -> participant object (the others)
const tiles = new Map(); // participant_id -> <figure>
let micMuted = false;
let cameraMuted = false;

function setState(next) {
  state = next;
  document.body.dataset.state = next;
}

function setStatus(text) {
  $('status').textContent = text;
}

function show(view) {
  for (const id of ['join-view', 'call-view', 'ended-view']) $(id).hidden = id !== view;
}

/** Shows MESSAGE in the alert banner; CODE is kept for tests and styles. */
function notify(message, { code = 'info', level = 'error' } = {}) {
  const box = $('notice');
  $('notice-text').textContent = message;
  box.dataset.code = code;
  box.dataset.level = level;
  box.hidden = false;
}

function clearNotice() {
  $('notice').hidden = true;
  delete $('notice').dataset.code;
}

/** Out of the call because of CODE: MESSAGE in the banner, then the join
 * form (FORM: the token is at fault) or the end panel titled TITLE. */
function fail(code, message, { title = 'L’appel est interrompu', form = false } = {}) {
  lastError = { code, message };
  setState('error');
  notify(message, { code });
  if (form) {
    show('join-view');
    return;
  }
  $('ended-title').textContent = title;
  $('rejoin-button').textContent = 'Réessayer';
  show('ended-view');
}

/* ---- fragment and form ---- */

function readFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get('token');
  if (!token) return null;
  return { token, name: params.get('name') || undefined, room: params.get('room') || undefined };
}

/** Accepts a whole link (…#token=…) or a bare token. */
function tokenFromInput(text) {
  const trimmed = text.trim();
  const m = /[#&?]token=([^&\s]+)/.exec(trimmed);
  return m ? decodeURIComponent(m[1]) : trimmed;
}

/* ---- participants on screen ---- */

function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join('');
}

function audioMuted(p) {
  return p.audio_muted ?? (p.tracks ?? []).some((t) => t.kind === 'audio' && t.muted);
}

function videoMuted(p) {
  return p.video_muted ?? (p.tracks ?? []).some((t) => t.kind === 'video' && t.muted);
}

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
  tile.querySelector('.name').textContent = p.name;
  tile.querySelector('.initials').textContent = initials(p.name);
  const am = audioMuted(p);
  const vm = videoMuted(p);
  tile.dataset.audioMuted = String(am);
  tile.dataset.videoMuted = String(vm);
  tile.querySelector('.badge.mic-off').hidden = !am;
  tile.querySelector('.badge.cam-off').hidden = !vm;
  tile.querySelector('.hint').textContent = vm ? 'Caméra coupée' : 'En attente de la vidéo…';
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

function updateWaiting() {
  $('waiting').hidden = participants.size > 0;
  $('call-view').dataset.remotes = String(participants.size);
}

/** Puts TRACK in ELEMENT unless it is already there. */
function attach(element, track) {
  const current = element.srcObject?.getTracks?.()[0];
  if (track && current === track) return;
  element.srcObject = track ? new MediaStream([track]) : null;
  if (track) {
    element.play().catch((err) => {
      // Audio without a user gesture: offer a button to start it.
      if (err.name === 'NotAllowedError') $('sound-button').hidden = false;
    });
  }
}

/** Matches what the subscribe connection receives to the tiles. */
function onRemoteMedia(list) {
  for (const [id, tile] of tiles) {
    const mine = list.filter((m) => m.participant_id === id);
    const video = mine.find((m) => m.kind === 'video' && m.source === 'camera') ??
      mine.find((m) => m.kind === 'video');
    const audio = mine.find((m) => m.kind === 'audio');
    attach(tile.querySelector('video'), video?.track);
    attach(tile.querySelector('audio'), audio?.track);
    tile.dataset.hasVideo = String(!!video);
  }
}

/* ---- chat ---- */

function appendChat({ participant_id, name, text, ts_ms }, { system = false } = {}) {
  const li = document.createElement('li');
  li.className = system ? 'system' : participant_id === you?.participant_id ? 'mine' : 'theirs';
  if (!system) {
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = participant_id === you?.participant_id ? 'Vous' : name;
    const when = document.createElement('time');
    const date = new Date(ts_ms ?? Date.now());
    when.dateTime = date.toISOString();
    when.textContent = date.toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' });
    li.append(who, ' ', when, document.createElement('br'));
  }
  li.append(text);
  $('chat-log').append(li);
  li.scrollIntoView({ block: 'end' });
}

/* ---- the call ---- */

function subscribe(s) {
  s.on('participant-joined', ({ participant }) => {
    addParticipant(participant);
    appendChat({ text: `${participant.name} a rejoint l’appel.` }, { system: true });
  });
  s.on('participant-left', ({ participant_id }) => {
    const p = participants.get(participant_id);
    removeParticipant(participant_id);
    if (p) appendChat({ text: `${p.name} a quitté l’appel.` }, { system: true });
  });
  s.on('participant-updated', ({ participant }) => {
    if (participant.participant_id === you?.participant_id) return;
    participants.set(participant.participant_id, participant);
    renderParticipant(participant);
  });
  s.on('chat', (m) => appendChat(m));
  s.on('slot-ending', ({ ends_at_ms }) => {
    const at = new Date(ends_at_ms).toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' });
    notify(`Le créneau se termine à ${at}.`, { code: 'slot-ending', level: 'info' });
  });
  s.on('removed', ({ reason }) => {
    teardown();
    fail(`removed-${reason}`, REMOVED_TEXT[reason] ?? 'Vous avez été retiré de l’appel.');
    setStatus('Hors de l’appel');
  });
  s.on('media-state', ({ pc, state: st, reason }) => {
    if (st === 'failed') console.warn(`tribu: ${pc} media failed: ${reason}`);
  });
  s.on('close', () => {
    teardown();
    fail('connection-lost', 'La connexion au serveur a été perdue : vérifiez votre réseau puis réessayez.');
    setStatus('Déconnecté');
  });
}

async function startMedia() {
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } },
  };
  try {
    localStream = await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    // No camera (or it is busy): try the microphone alone before giving up.
    if (err.name !== 'NotAllowedError' && err.name !== 'SecurityError') {
      try {
        localStream = await navigator.mediaDevices.getUserMedia({ audio: constraints.audio });
      } catch {
        /* reported below */
      }
    }
    notify(localStream
      ? 'La caméra n’est pas disponible : l’autre personne vous entend, mais ne vous voit pas.'
      : cameraErrorText(err), { code: 'camera', level: 'warning' });
    if (!localStream) return;
  }
  if (state !== 'joined' || !media) {
    // Left (or cut off) while the browser was asking for the devices.
    for (const track of localStream.getTracks()) track.stop();
    localStream = null;
    return;
  }
  $('local-video').srcObject = localStream;
  $('mic-button').disabled = localStream.getAudioTracks().length === 0;
  $('camera-button').disabled = localStream.getVideoTracks().length === 0;
  try {
    await media.publish(localStream);
  } catch (err) {
    if (state !== 'joined') return;
    console.error('tribu: publish failed', err);
    notify('Votre caméra et votre micro n’ont pas pu être envoyés : rechargez la page pour réessayer.',
      { code: 'publish-failed', level: 'warning' });
  }
}

async function join(args) {
  if (state === 'joining' || state === 'joined') return;
  joinArgs = args;
  lastError = null;
  clearNotice();
  setState('joining');
  setStatus('Connexion…');
  show(null);
  $('chat-log').replaceChildren();
  const s = new Signaling();
  sig = s;
  try {
    await s.connect();
  } catch (err) {
    if (sig === s) sig = null;
    fail(err.code, joinErrorText(err), { title: 'Impossible de rejoindre l’appel' });
    setStatus('Déconnecté');
    return;
  }
  subscribe(s);
  media = new MediaSession(s, {
    onRemoteMedia,
    onState: (pc, st) => {
      if (pc === 'subscribe' && st === 'connected') setStatus('En appel');
    },
    onError: (where, err) => console.error(`tribu: ${where} negotiation failed`, err),
  });
  let data;
  try {
    const fields = { token: args.token };
    if (args.name) fields.name = args.name;
    if (args.room) fields.room = args.room;
    data = await s.request('join', fields);
  } catch (err) {
    teardown();
    const badToken = err.code === 'unauthorized' || err.code === 'bad-field' || err.code === 'missing-field';
    fail(err.code, joinErrorText(err), { title: 'Impossible de rejoindre l’appel', form: badToken });
    setStatus('Hors de l’appel');
    return;
  }
  you = data.you;
  setState('joined');
  setStatus('En appel');
  show('call-view');
  $('room-label').textContent = data.room.kind === 'coaching' ? 'Appel de coaching' : 'Atelier';
  $('room-label').title = data.room.id;
  for (const p of data.participants) addParticipant(p);
  updateWaiting();
  await startMedia();
}

/** Stops media and the connection; leaves the page's views alone. */
function teardown() {
  media?.close();
  media = null;
  const s = sig;
  sig = null;
  s?.close();
  for (const track of localStream?.getTracks() ?? []) track.stop();
  localStream = null;
  $('local-video').srcObject = null;
  for (const id of [...tiles.keys()]) removeParticipant(id);
  you = null;
  micMuted = cameraMuted = false;
  renderLocalMute();
}

async function leave() {
  const s = sig;
  if (s && state === 'joined') {
    try {
      await s.request('leave', {}, { timeout: 3000 });
    } catch {
      /* closing anyway */
    }
  }
  teardown();
  clearNotice();
  setState('left');
  setStatus('Hors de l’appel');
  $('ended-title').textContent = 'Vous avez quitté l’appel';
  $('rejoin-button').textContent = 'Rejoindre à nouveau';
  show('ended-view');
}

/* ---- controls ---- */

function renderLocalMute() {
  const mic = $('mic-button');
  mic.setAttribute('aria-pressed', String(micMuted));
  mic.querySelector('.label').textContent = micMuted ? 'Activer le micro' : 'Couper le micro';
  const cam = $('camera-button');
  cam.setAttribute('aria-pressed', String(cameraMuted));
  cam.querySelector('.label').textContent = cameraMuted ? 'Activer la caméra' : 'Couper la caméra';
  $('local-tile').dataset.videoMuted = String(cameraMuted);
  $('local-tile').querySelector('.badge.mic-off').hidden = !micMuted;
}

async function setMuted(kind, muted) {
  if (kind === 'audio') micMuted = muted;
  else cameraMuted = muted;
  media?.setEnabled(kind, !muted);
  renderLocalMute();
  try {
    await sig?.request('mute', { kind, muted });
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
});
$('sound-button').addEventListener('click', () => {
  for (const el of document.querySelectorAll('#remotes audio, #remotes video')) el.play().catch(() => {});
  $('sound-button').hidden = true;
});

$('chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text || !sig || state !== 'joined') return;
  input.value = '';
  try {
    await sig.request('chat', { text });
  } catch (err) {
    input.value = text;
    notify('Le message n’a pas pu être envoyé.', { code: 'chat', level: 'warning' });
  }
});

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = tokenFromInput($('join-token').value);
  if (!token) return;
  const name = $('join-name').value.trim() || undefined;
  join({ token, name, room: joinArgs?.room });
});

window.addEventListener('pagehide', () => sig?.close());

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
  /** The <video> of every other participant. */
  remoteVideos() {
    return [...document.querySelectorAll('#remotes video')];
  },
  /** For each remote video: {participant_id, framesDecoded, frameWidth,
   * frameHeight, packetsReceived, videoWidth, currentTime}. */
  async stats() {
    const rows = media ? await media.remoteStats() : [];
    return rows.map((r) => {
      const video = tiles.get(r.participant_id)?.querySelector('video');
      return { ...r, videoWidth: video?.videoWidth ?? 0, currentTime: video?.currentTime ?? 0 };
    });
  },
};

/* ---- start ---- */

const fromFragment = readFragment();
if (fromFragment) {
  join(fromFragment);
} else {
  setState('form');
  setStatus('');
  show('join-view');
}
