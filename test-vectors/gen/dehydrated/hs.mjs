// A tiny in-memory stand-in for the homeserver endpoints the OlmMachines of gen.mjs and
// ../bundle/gen.mjs talk to: /keys/upload, /keys/query, /keys/claim, /keys/device_signing/upload,
// /keys/signatures/upload, /sendToDevice and PUT /dehydrated_device. To-device messages are kept
// per device, in the order they were sent, as /sync (or the dehydrated-device events endpoint)
// would hand them out: {type, sender, content}. Grown from ../account/hs.mjs.
import * as W from "@matrix-org/matrix-sdk-crypto-wasm";

const clone = (o) => JSON.parse(JSON.stringify(o));

export class FakeHomeserver {
  constructor() {
    this.devices = {}; // user -> device -> device_keys
    this.oneTimeKeys = {}; // user -> device -> {"signed_curve25519:ID": key object}
    this.fallbackKeys = {}; // user -> device -> {"signed_curve25519:ID": key object}
    this.master = {};
    this.selfSigning = {};
    this.userSigning = {};
    this.inbox = {}; // user -> device -> [{type, sender, content}]
    this.claimLog = []; // [{claimer, user, device, keyId, key}]
    this.replayNextClaim = null; // {user, device}: hand out the last claimed key again (once)
  }

  /** The keys of one device's upload, stored for claims (only this fake does this per device). */
  storeKeys(user, device, body) {
    if (body.device_keys) (this.devices[user] ??= {})[device] = clone(body.device_keys);
    Object.assign(((this.oneTimeKeys[user] ??= {})[device] ??= {}), clone(body.one_time_keys ?? {}));
    Object.assign(((this.fallbackKeys[user] ??= {})[device] ??= {}), clone(body.fallback_keys ?? {}));
    return { one_time_key_counts: { signed_curve25519: Object.keys(this.oneTimeKeys[user][device]).length } };
  }

  /** PUT /dehydrated_device: the device, its keys, and its one-time and fallback keys. */
  putDehydratedDevice(user, body) {
    this.dehydrated = { user, device_id: body.device_id, device_data: clone(body.device_data) };
    this.storeKeys(user, body.device_id, body);
    return { device_id: body.device_id };
  }

  uploadSigningKeys(user, body) {
    if (body.master_key) this.master[user] = clone(body.master_key);
    if (body.self_signing_key) this.selfSigning[user] = clone(body.self_signing_key);
    if (body.user_signing_key) this.userSigning[user] = clone(body.user_signing_key);
    return {};
  }

  uploadSignatures(signer, body) {
    for (const [user, objs] of Object.entries(body)) {
      for (const [keyOrDevice, obj] of Object.entries(objs)) {
        const sigs = obj.signatures?.[signer] ?? {};
        const master = this.master[user];
        const target = this.devices[user]?.[keyOrDevice] ??
          (master && Object.keys(master.keys)[0] === `ed25519:${keyOrDevice}` ? master : null);
        if (!target) throw new Error(`signature upload for unknown ${user} ${keyOrDevice}`);
        target.signatures ??= {};
        target.signatures[signer] = { ...(target.signatures[signer] ?? {}), ...sigs };
      }
    }
    return { failures: {} };
  }

  query(viewer, users) {
    const res = { device_keys: {}, failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
    for (const u of users) {
      res.device_keys[u] = clone(this.devices[u] ?? {});
      if (this.master[u]) res.master_keys[u] = clone(this.master[u]);
      if (this.selfSigning[u]) res.self_signing_keys[u] = clone(this.selfSigning[u]);
      if (u === viewer && this.userSigning[u]) res.user_signing_keys[u] = clone(this.userSigning[u]);
    }
    return res;
  }

  /** POST /keys/claim: one one-time key per device (removed), else the fallback key. */
  claim(claimer, body) {
    const res = { one_time_keys: {}, failures: {} };
    for (const [user, devices] of Object.entries(body.one_time_keys)) {
      for (const device of Object.keys(devices)) {
        let entry;
        const replay = this.replayNextClaim;
        if (replay && replay.user === user && replay.device === device) {
          const last = [...this.claimLog].reverse().find((c) => c.user === user && c.device === device);
          entry = [last.keyId, last.key];
          this.replayNextClaim = null;
        } else {
          const otks = this.oneTimeKeys[user]?.[device] ?? {};
          const id = Object.keys(otks).sort()[0];
          if (id) {
            entry = [id, otks[id]];
            delete otks[id];
          } else {
            const fb = Object.entries(this.fallbackKeys[user]?.[device] ?? {})[0];
            if (fb) entry = fb;
          }
        }
        if (!entry) continue;
        this.claimLog.push({ claimer, user, device, keyId: entry[0], key: clone(entry[1]) });
        ((res.one_time_keys[user] ??= {})[device] ??= {})[entry[0]] = clone(entry[1]);
      }
    }
    return res;
  }

  /** PUT /sendToDevice/{eventType}/{txnId}. */
  sendToDevice(sender, eventType, body) {
    for (const [user, devices] of Object.entries(body.messages)) {
      for (const [device, content] of Object.entries(devices)) {
        const targets = device === "*" ? Object.keys(this.devices[user] ?? {}) : [device];
        for (const d of targets) {
          ((this.inbox[user] ??= {})[d] ??= []).push({ type: eventType, sender, content: clone(content) });
        }
      }
    }
    return {};
  }

  /** Takes (and removes) what is waiting for one device. */
  drain(user, device) {
    const events = this.inbox[user]?.[device] ?? [];
    if (this.inbox[user]) this.inbox[user][device] = [];
    return events;
  }
}

/** One device: an OlmMachine whose outgoing requests are answered by a FakeHomeserver. */
export class Client {
  constructor(hs, userId, deviceId) {
    this.hs = hs;
    this.userId = userId;
    this.deviceId = deviceId;
  }

  async init() {
    this.m = await W.OlmMachine.initialize(new W.UserId(this.userId), new W.DeviceId(this.deviceId));
    await this.processOutgoing();
    return this;
  }

  async respond(type, body, req) {
    switch (type) {
      case W.RequestType.KeysUpload: return this.hs.storeKeys(this.userId, this.deviceId, body);
      case W.RequestType.KeysQuery: return this.hs.query(this.userId, Object.keys(body.device_keys));
      case W.RequestType.KeysClaim: return this.hs.claim(this.userId, body);
      case W.RequestType.SignatureUpload: return this.hs.uploadSignatures(this.userId, body);
      case W.RequestType.ToDevice: return this.hs.sendToDevice(this.userId, req.event_type, body);
      default: throw new Error(`unexpected request type ${type}`);
    }
  }

  async send(req) {
    const resp = await this.respond(req.type, JSON.parse(req.body), req);
    if (req.id) await this.m.markRequestAsSent(req.id, req.type, JSON.stringify(resp));
  }

  async processOutgoing() {
    for (let i = 0; i < 10; i++) {
      const reqs = await this.m.outgoingRequests();
      if (reqs.length === 0) return;
      for (const r of reqs) await this.send(r);
    }
    throw new Error("outgoing requests did not settle");
  }

  /** Answers a /keys/query for `users` and establishes Olm sessions with all their devices. */
  async prepareSessions(users) {
    await this.m.updateTrackedUsers(users.map((u) => new W.UserId(u)));
    await this.processOutgoing();
    const claim = await this.m.getMissingSessions(users.map((u) => new W.UserId(u)));
    if (claim) await this.send(claim);
    await this.processOutgoing();
  }

  /** OlmMachine.bootstrapCrossSigning(true) with its three requests sent. */
  async bootstrapCrossSigning() {
    const r = await this.m.bootstrapCrossSigning(true);
    if (r.uploadKeysRequest) await this.send(r.uploadKeysRequest);
    this.hs.uploadSigningKeys(this.userId, JSON.parse(r.uploadSigningKeysRequest.body));
    await this.send(r.uploadSignaturesRequest);
    await this.processOutgoing();
    return r;
  }

  /** Feeds the waiting to-device events to the machine, as a /sync would. */
  async sync() {
    const events = this.hs.drain(this.userId, this.deviceId);
    const out = await this.m.receiveSyncChanges(JSON.stringify(events), new W.DeviceLists(), new Map(), new Set());
    await this.processOutgoing();
    return { events, out };
  }
}
