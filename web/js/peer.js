// peer.js — the two RTCPeerConnections of a Tribu participant.
//
// Publish: the browser offers its send-only camera and microphone, the
// server answers (`publish`). Subscribe: the server offers what this
// participant receives (event `subscriber-offer`), the browser answers
// (`subscriber-answer`); later offers renegotiate the same connection.
// `track-map` says whose media each subscribe mid carries; after every
// negotiation the receivers are matched to participants again, because the
// server reuses an idle section (same mid) for a new stream.
//
// ICE candidates trickle both ways as `candidate {pc, candidate}`; the
// server's are held until the matching connection has its remote
// description.
//
// Not here: the page (call.js) and the WebSocket (signaling.js).

import { SignalingError } from './signaling.js';

const PC_CONFIG = { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };

/** What a MediaStreamTrack of KIND carries when published. */
function sourceOf(kind) {
  return kind === 'audio' ? 'mic' : 'camera';
}

/** The wire form of an RTCIceCandidate (or null: end of candidates). */
function candidateJson(c) {
  if (!c || !c.candidate) return null;
  return { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
}

export class MediaSession {
  /**
   * SIGNALING: a connected Signaling. HOOKS:
   *  - onRemoteMedia(list): the media received now, after each negotiation:
   *    [{mid, participant_id, track_id, kind, source, track}];
   *  - onState(pc, state): 'publish' | 'subscribe', RTCPeerConnectionState;
   *  - onError(where, err): a negotiation failed (where: 'publish',
   *    'subscribe').
   */
  constructor(signaling, { onRemoteMedia = () => {}, onState = () => {}, onError = () => {} } = {}) {
    this.sig = signaling;
    this.hooks = { onRemoteMedia, onState, onError };
    this.pub = null;
    this.sub = null;
    this.trackMap = new Map(); // mid -> {participant_id, track_id, kind, source}
    this.remoteCandidates = { publish: [], subscribe: [] }; // held until remote description
    this.localCandidates = []; // publish candidates gathered before `publish` went out
    this.publishSent = false;
    this.subChain = Promise.resolve();
    this.latestOffer = 0;
    this.closed = false;
    this.offs = [
      signaling.on('track-map', (d) => this._onTrackMap(d)),
      signaling.on('subscriber-offer', (d) => this._onSubscriberOffer(d)),
      signaling.on('candidate', (d) => this._onRemoteCandidate(d)),
    ];
  }

  /* ---- publish ---- */

  /** Publishes every track of STREAM on a new publish connection; resolves
   * once the server's answer is applied. Rejects with the SDP error or a
   * SignalingError. */
  async publish(stream) {
    const pc = new RTCPeerConnection(PC_CONFIG);
    this.pub = pc;
    this._watch(pc, 'publish');
    pc.addEventListener('icecandidate', (ev) => {
      const cand = candidateJson(ev.candidate);
      if (!this.publishSent) this.localCandidates.push(cand);
      else this._sendCandidate('publish', cand);
    });
    // Audio first, then video: the order of the m-sections.
    const tracks = [...stream.getAudioTracks(), ...stream.getVideoTracks()];
    for (const track of tracks) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const sources = pc
        .getTransceivers()
        .filter((t) => t.mid !== null && t.sender.track)
        .map((t) => ({ mid: t.mid, source: sourceOf(t.sender.track.kind) }));
      const answer = this.sig.request('publish', { sdp: pc.localDescription.sdp, tracks: sources });
      this.publishSent = true;
      for (const cand of this.localCandidates.splice(0)) this._sendCandidate('publish', cand);
      const { sdp } = await answer;
      if (this.closed) return;
      await this._setRemote(pc, 'publish', { type: 'answer', sdp });
    } catch (err) {
      this.hooks.onError('publish', err);
      throw err;
    }
  }

  /** Enables or disables the published tracks of KIND ('audio' | 'video'):
   * a disabled track sends silence or black frames. */
  setEnabled(kind, enabled) {
    for (const sender of this.pub?.getSenders() ?? [])
      if (sender.track && sender.track.kind === kind) sender.track.enabled = enabled;
  }

  /* ---- subscribe ---- */

  _onTrackMap({ tracks = [] }) {
    this.trackMap = new Map(tracks.map((t) => [t.mid, t]));
    this._reportRemote();
  }

  _onSubscriberOffer({ sdp, version }) {
    this.latestOffer = Math.max(this.latestOffer, version);
    this.subChain = this.subChain.then(() => this._answer(sdp, version));
  }

  async _answer(sdp, version) {
    if (this.closed || version < this.latestOffer) return; // a newer offer replaced it
    if (!this.sub) {
      const pc = new RTCPeerConnection(PC_CONFIG);
      this.sub = pc;
      this._watch(pc, 'subscribe');
      pc.addEventListener('icecandidate', (ev) =>
        this._sendCandidate('subscribe', candidateJson(ev.candidate)),
      );
      pc.addEventListener('track', () => this._reportRemote());
    }
    const pc = this.sub;
    try {
      await this._setRemote(pc, 'subscribe', { type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this._reportRemote();
      await this.sig.request('subscriber-answer', { sdp: pc.localDescription.sdp, version });
    } catch (err) {
      // conflict: a newer offer is on its way and will be answered.
      if (err instanceof SignalingError && err.code === 'conflict') return;
      if (!this.closed) this.hooks.onError('subscribe', err);
    }
  }

  /** The receiving transceivers that carry someone's media now, each with
   * its track-map entry: [{transceiver, entry}]. */
  _liveReceivers() {
    const live = [];
    for (const t of this.sub?.getTransceivers() ?? []) {
      const entry = t.mid !== null ? this.trackMap.get(t.mid) : undefined;
      const dir = t.currentDirection ?? t.direction;
      if (entry && !t.stopped && dir !== 'inactive' && dir !== 'stopped') live.push({ t, entry });
    }
    return live;
  }

  /** Tells the page which participant each live receiver belongs to. */
  _reportRemote() {
    if (!this.sub || this.closed) return;
    this.hooks.onRemoteMedia(
      this._liveReceivers().map(({ t, entry }) => ({ ...entry, mid: t.mid, track: t.receiver.track })),
    );
  }

  /** For each received video: {participant_id, mid, framesDecoded,
   * frameWidth, frameHeight, packetsReceived} from its inbound-rtp stats. */
  async remoteStats() {
    const out = [];
    for (const { t, entry } of this._liveReceivers()) {
      if (entry.kind !== 'video') continue;
      const row = { participant_id: entry.participant_id, mid: t.mid, framesDecoded: 0,
        frameWidth: 0, frameHeight: 0, packetsReceived: 0 };
      const report = await t.receiver.getStats();
      report.forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        row.framesDecoded = s.framesDecoded ?? 0;
        row.frameWidth = s.frameWidth ?? 0;
        row.frameHeight = s.frameHeight ?? 0;
        row.packetsReceived = s.packetsReceived ?? 0;
      });
      out.push(row);
    }
    return out;
  }

  /** The connection's quality now: {level: 'good' | 'fair' | 'poor' |
   * 'unknown', rtt_ms, loss_pct}. RTT from the selected ICE pair, loss
   * from what we received since the previous call (inbound-rtp) and what
   * the server reports of our sending (remote-inbound-rtp). */
  async quality() {
    let rtt = null;
    let received = 0;
    let lost = 0;
    let sentLoss = 0;
    for (const conn of [this.pub, this.sub]) {
      if (!conn || conn.connectionState !== 'connected') continue;
      const report = await conn.getStats();
      report.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' &&
            typeof s.currentRoundTripTime === 'number')
          rtt = Math.max(rtt ?? 0, s.currentRoundTripTime * 1000);
        if (s.type === 'inbound-rtp') {
          received += s.packetsReceived ?? 0;
          lost += Math.max(0, s.packetsLost ?? 0);
        }
        if (s.type === 'remote-inbound-rtp' && typeof s.fractionLost === 'number')
          sentLoss = Math.max(sentLoss, s.fractionLost * 100);
      });
    }
    const prev = this.lastCounts ?? { received: 0, lost: 0 };
    this.lastCounts = { received, lost };
    const dr = received - prev.received;
    const dl = lost - prev.lost;
    const recvLoss = dr + dl > 0 && dl > 0 ? (100 * dl) / (dr + dl) : 0;
    const loss = Math.max(recvLoss, sentLoss);
    if (rtt === null) return { level: 'unknown', rtt_ms: null, loss_pct: null };
    let level = 'poor';
    if (rtt < 300 && loss < 2) level = 'good';
    else if (rtt < 600 && loss < 8) level = 'fair';
    return { level, rtt_ms: Math.round(rtt), loss_pct: Math.round(loss * 10) / 10 };
  }

  /* ---- ICE ---- */

  _sendCandidate(pc, candidate) {
    if (this.closed) return;
    this.sig.request('candidate', { pc, candidate }).catch((err) => {
      if (err.code !== 'connection-lost') console.warn(`tribu: ${pc} candidate refused`, err);
    });
  }

  _onRemoteCandidate({ pc, candidate }) {
    const conn = pc === 'publish' ? this.pub : pc === 'subscribe' ? this.sub : null;
    if (!this.remoteCandidates[pc]) return;
    if (!conn || !conn.remoteDescription) {
      this.remoteCandidates[pc].push(candidate);
      return;
    }
    this._addRemoteCandidate(conn, pc, candidate);
  }

  _addRemoteCandidate(conn, pc, candidate) {
    // null: end of candidates (addIceCandidate() with no argument).
    const p = candidate && candidate.candidate ? conn.addIceCandidate(candidate) : conn.addIceCandidate();
    p.catch((err) => console.warn(`tribu: ${pc} candidate not added`, candidate, err));
  }

  async _setRemote(conn, pc, description) {
    try {
      await conn.setRemoteDescription(description);
    } catch (err) {
      // Keep the SDP with the error: it is what a bug report needs.
      console.error(`tribu: the server's ${pc} ${description.type} was refused: ${err.message}\n` +
        description.sdp);
      err.sdp = description.sdp;
      throw err;
    }
    for (const cand of this.remoteCandidates[pc].splice(0)) this._addRemoteCandidate(conn, pc, cand);
  }

  _watch(conn, pc) {
    conn.addEventListener('connectionstatechange', () => this.hooks.onState(pc, conn.connectionState));
  }

  /** Closes both connections and stops nothing else (the page owns the
   * local stream). Idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.offs) off();
    this.pub?.close();
    this.sub?.close();
  }
}
