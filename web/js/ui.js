// ui.js — what the call and workshop pages show alike: the status line, the
// alert banner, the chat panel, participant tiles, the connection quality,
// the camera and microphone, and the messages for every way of failing.
//
// Messages are kept as {key, params} and rendered with t(), so that
// switching the language re-renders what is on screen. Every element it
// touches is found by id in the page; the pages share the ids (status,
// notice, notice-text, chat-log, chat-form, chat-input, quality).
//
// Not here: the room connection (room.js) and each page's own layout.

import { locale, onLangChange, t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

/* ---- status line and banner ---- */

let statusMsg = null; // {key, params}
let noticeMsg = null; // {key, params}

/** Sets the status line (polite live region) to KEY, or clears it. */
export function setStatus(key, params = {}) {
  statusMsg = key ? { key, params } : null;
  $('status').textContent = key ? t(key, params) : '';
}

/** Shows KEY in the alert banner; CODE is kept for tests and styles, LEVEL
 * is error | warning | info. */
export function notify(key, params = {}, { code = 'info', level = 'error' } = {}) {
  const box = $('notice');
  noticeMsg = { key, params };
  $('notice-text').textContent = t(key, params);
  box.dataset.code = code;
  box.dataset.level = level;
  // An error interrupts (role=alert); the rest is read when the reader is idle.
  box.setAttribute('role', level === 'error' ? 'alert' : 'status');
  box.hidden = false;
}

export function clearNotice() {
  noticeMsg = null;
  $('notice').hidden = true;
  delete $('notice').dataset.code;
}

onLangChange(() => {
  if (statusMsg) $('status').textContent = t(statusMsg.key, statusMsg.params);
  if (noticeMsg) $('notice-text').textContent = t(noticeMsg.key, noticeMsg.params);
});

/* ---- what went wrong, in words ---- */

/** The message key and params for a failed join (or rejoin). */
export function joinError(err) {
  const known = {
    'room-full': 'err.roomFull',
    'room-locked': 'err.roomLocked',
    forbidden: 'err.forbidden',
    conflict: 'err.conflict',
    'rate-limited': 'err.rateLimited',
    'missing-field': 'err.noRoom',
    'bad-field': 'err.badLink',
    'connection-failed': 'err.unreachable',
    'connection-lost': 'err.unreachable',
    timeout: 'err.unreachable',
  };
  if (err.code === 'unauthorized')
    return { key: /expired/i.test(err.message) ? 'err.expired' : 'err.invalidToken' };
  if (known[err.code]) return { key: known[err.code] };
  return { key: 'err.joinOther', params: { code: err.code } };
}

/** True when the token itself is at fault: the page offers the form. */
export function tokenAtFault(err) {
  return err.code === 'unauthorized' || err.code === 'bad-field' || err.code === 'missing-field';
}

/** The message key for a refused or missing camera (getUserMedia error). */
export function cameraErrorKey(err) {
  switch (err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'err.cameraDenied';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'err.cameraMissing';
    case 'NotReadableError':
      return 'err.cameraBusy';
    default:
      return 'err.cameraOther';
  }
}

/** A failed request (not a join): KEY for the banner, with the code. */
export function requestError(err) {
  if (err.code === 'unknown-type') return { key: 'err.unsupported', params: { code: err.code } };
  if (err.code === 'forbidden') return { key: 'err.notAllowed', params: { code: err.code } };
  if (err.code === 'connection-lost' || err.code === 'timeout')
    return { key: 'err.notSent', params: { code: err.code } };
  return { key: 'err.requestFailed', params: { code: err.code, message: err.message } };
}

/* ---- fragment ---- */

/** {token, name?, room?} from the page's #token=...&name=...&room=...,
 * or null. */
export function readFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get('token');
  if (!token) return null;
  return { token, name: params.get('name') || undefined, room: params.get('room') || undefined };
}

/** Accepts a whole link (…#token=…) or a bare token. */
export function tokenFromInput(text) {
  const trimmed = text.trim();
  const m = /[#&?]token=([^&\s]+)/.exec(trimmed);
  return m ? decodeURIComponent(m[1]) : trimmed;
}

/* ---- camera and microphone ---- */

/** Asks for the camera and microphone (the microphone alone when there is
 * no camera). Resolves {stream, warning: {key} | null}; stream is null when
 * nothing could be had. */
export async function openLocalMedia() {
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } },
  };
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints), warning: null };
  } catch (err) {
    if (err.name !== 'NotAllowedError' && err.name !== 'SecurityError') {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: constraints.audio });
        return { stream, warning: { key: 'err.cameraAudioOnly' } };
      } catch {
        /* reported below */
      }
    }
    return { stream: null, warning: { key: cameraErrorKey(err) } };
  }
}

/* ---- participants ---- */

export function initials(name) {
  return (name || '?')
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join('');
}

export function audioMuted(p) {
  return p.audio_muted ?? (p.tracks ?? []).some((t) => t.kind === 'audio' && t.muted);
}

export function videoMuted(p) {
  return p.video_muted ?? (p.tracks ?? []).some((t) => t.kind === 'video' && t.muted);
}

/** Puts TRACK in the media ELEMENT unless it is already there; ONBLOCKED()
 * when the browser refuses to play without a user gesture. */
export function attach(element, track, onBlocked = () => {}) {
  const current = element.srcObject?.getTracks?.()[0];
  if (track && current === track) return;
  element.srcObject = track ? new MediaStream([track]) : null;
  if (track) {
    element.play().catch((err) => {
      if (err.name === 'NotAllowedError') onBlocked();
    });
  }
}

/** Of LIST (onRemoteMedia), the camera (else any video) and the audio of
 * participant ID. */
export function mediaOf(list, id) {
  const mine = list.filter((m) => m.participant_id === id);
  return {
    video: mine.find((m) => m.kind === 'video' && m.source === 'camera') ?? mine.find((m) => m.kind === 'video'),
    audio: mine.find((m) => m.kind === 'audio'),
  };
}

/* ---- chat ---- */

/** Appends a message to #chat-log: {participant_id, name, text, ts_ms};
 * MINE when we sent it; SYSTEM for a line of the page's own. */
export function appendChat({ name, text, ts_ms }, { mine = false, system = false } = {}) {
  const li = document.createElement('li');
  li.className = system ? 'system' : mine ? 'mine' : 'theirs';
  if (!system) {
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = mine ? t('common.you') : name;
    const when = document.createElement('time');
    const date = new Date(ts_ms ?? Date.now());
    when.dateTime = date.toISOString();
    when.textContent = date.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
    li.append(who, ' ', when, document.createElement('br'));
  }
  li.append(text);
  $('chat-log').append(li);
  li.scrollIntoView({ block: 'end' });
}

/** Wires #chat-form to SEND(text) (a promise); on failure the text goes
 * back in the box and the banner says so. */
export function wireChat(send) {
  $('chat-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    try {
      await send(text);
    } catch (err) {
      input.value = text;
      notify('err.chat', {}, { code: 'chat', level: 'warning' });
    }
  });
}

/* ---- connection quality ---- */

/** Shows QUALITY ({level, rtt_ms, loss_pct}) in #quality. */
export function renderQuality(quality) {
  const el = $('quality');
  if (!el) return;
  el.dataset.level = quality.level;
  el.hidden = false;
  const label = t(`quality.${quality.level}`);
  el.querySelector('.quality-text').textContent = label;
  el.title = quality.rtt_ms === null || quality.rtt_ms === undefined
    ? label
    : t('quality.detail', { rtt: quality.rtt_ms, loss: quality.loss_pct });
}

/** mm:ss (or h:mm:ss) of MS, never negative. */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
