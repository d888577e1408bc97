// A tiny in-memory stand-in for the homeserver endpoints that matrix-sdk-crypto's OlmMachine talks
// to: /keys/upload, /keys/query, /keys/claim, /keys/device_signing/upload, /keys/signatures/upload
// and /sendToDevice + the to-device part of /sync. Only what the identity vectors need; no network.
import * as sdk from "@matrix-org/matrix-sdk-crypto-wasm";

const clone = (o) => JSON.parse(JSON.stringify(o));

export class FakeHomeserver {
  constructor() {
    this.devices = {}; // user -> device -> device_keys
    this.master = {}; // user -> key object
    this.selfSigning = {};
    this.userSigning = {};
    // signatures made by one user on another user's master key, visible only to the signer:
    // target user -> signer user -> {key id: sig}
    this.foreignMasterSigs = {};
    this.inbox = {}; // "user|device" -> [to-device events]
    this.toDeviceLog = []; // every to-device message relayed, in order
  }

  uploadKeys(user, body) {
    if (body.device_keys) {
      const dk = body.device_keys;
      (this.devices[user] ??= {})[dk.device_id] = clone(dk);
    }
    return { one_time_key_counts: { signed_curve25519: Object.keys(body.one_time_keys ?? {}).length } };
  }

  uploadSigningKeys(user, body) {
    if (body.master_key) this.master[user] = clone(body.master_key);
    if (body.self_signing_key) this.selfSigning[user] = clone(body.self_signing_key);
    if (body.user_signing_key) this.userSigning[user] = clone(body.user_signing_key);
    return {};
  }

  _mergeSigs(target, signer, sigs) {
    target.signatures ??= {};
    target.signatures[signer] = { ...(target.signatures[signer] ?? {}), ...sigs };
  }

  uploadSignatures(signerUser, body) {
    for (const [user, objs] of Object.entries(body)) {
      for (const [keyOrDevice, obj] of Object.entries(objs)) {
        const sigs = obj.signatures?.[signerUser] ?? {};
        const dev = this.devices[user]?.[keyOrDevice];
        const master = this.master[user];
        const masterId = master && Object.keys(master.keys)[0].slice("ed25519:".length);
        if (dev) {
          this._mergeSigs(dev, signerUser, sigs);
        } else if (master && keyOrDevice === masterId) {
          if (user === signerUser) this._mergeSigs(master, signerUser, sigs);
          else {
            const m = ((this.foreignMasterSigs[user] ??= {})[signerUser] ??= {});
            Object.assign(m, sigs);
          }
        } else {
          throw new Error(`signature upload for unknown ${user} ${keyOrDevice}`);
        }
      }
    }
    return { failures: {} };
  }

  // The /keys/query response as `viewer` sees it (user_signing_keys only for the viewer's own user,
  // other users' user-signing signatures on a master key only for that signer).
  query(viewer, users) {
    const res = { device_keys: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {}, failures: {} };
    for (const u of users) {
      res.device_keys[u] = clone(this.devices[u] ?? {});
      if (this.master[u]) {
        const m = clone(this.master[u]);
        const extra = this.foreignMasterSigs[u]?.[viewer];
        if (extra && viewer !== u) this._mergeSigs(m, viewer, extra);
        res.master_keys[u] = m;
      }
      if (this.selfSigning[u]) res.self_signing_keys[u] = clone(this.selfSigning[u]);
      if (u === viewer && this.userSigning[u]) res.user_signing_keys[u] = clone(this.userSigning[u]);
    }
    return res;
  }

  sendToDevice(sender, senderDevice, eventType, body) {
    for (const [user, devs] of Object.entries(body.messages)) {
      for (const [dev, content] of Object.entries(devs)) {
        const targets = dev === "*" ? Object.keys(this.devices[user] ?? {}).filter((d) => !(user === sender && d === senderDevice)) : [dev];
        for (const t of targets) {
          const ev = { sender, type: eventType, content: clone(content) };
          (this.inbox[`${user}|${t}`] ??= []).push(ev);
          this.toDeviceLog.push({ from_user: sender, from_device: senderDevice, to_user: user, to_device: t, ...ev });
        }
      }
    }
    return {};
  }
}

export class Client {
  constructor(hs, userId, deviceId) {
    this.hs = hs;
    this.userId = userId;
    this.deviceId = deviceId;
  }

  async init() {
    this.m = await sdk.OlmMachine.initialize(new sdk.UserId(this.userId), new sdk.DeviceId(this.deviceId));
    await this.processOutgoing();
    return this;
  }

  async send(req) {
    const body = JSON.parse(req.body);
    let resp;
    switch (req.type) {
      case sdk.RequestType.KeysUpload:
        resp = this.hs.uploadKeys(this.userId, body);
        break;
      case sdk.RequestType.KeysQuery:
        resp = this.hs.query(this.userId, Object.keys(body.device_keys));
        break;
      case sdk.RequestType.KeysClaim:
        resp = { one_time_keys: {}, failures: {} };
        break;
      case sdk.RequestType.ToDevice:
        resp = this.hs.sendToDevice(this.userId, this.deviceId, req.event_type, body);
        break;
      case sdk.RequestType.SignatureUpload:
        resp = this.hs.uploadSignatures(this.userId, body);
        break;
      default:
        return; // room messages, backups: not used here
    }
    if (req.id) await this.m.markRequestAsSent(req.id, req.type, JSON.stringify(resp));
  }

  async processOutgoing() {
    for (let i = 0; i < 10; i++) {
      const reqs = await this.m.outgoingRequests();
      if (reqs.length === 0) return;
      for (const r of reqs) await this.send(r);
    }
  }

  // Deliver pending to-device events and the device-list changes, then flush outgoing requests.
  async sync(changed = []) {
    const key = `${this.userId}|${this.deviceId}`;
    const evs = this.hs.inbox[key] ?? [];
    this.hs.inbox[key] = [];
    const lists = new sdk.DeviceLists(changed.map((u) => new sdk.UserId(u)), []);
    await this.m.receiveSyncChanges(JSON.stringify(evs), lists, new Map(), new Set());
    await this.processOutgoing();
    return evs;
  }

  async bootstrapCrossSigning() {
    const r = await this.m.bootstrapCrossSigning(true);
    if (r.uploadKeysRequest) await this.send(r.uploadKeysRequest);
    this.hs.uploadSigningKeys(this.userId, JSON.parse(r.uploadSigningKeysRequest.body));
    await this.send(r.uploadSignaturesRequest);
    await this.processOutgoing();
    return r;
  }

  async track(users) {
    await this.m.updateTrackedUsers(users.map((u) => new sdk.UserId(u)));
    await this.processOutgoing();
  }

  async sendOutgoingVerification(req) {
    if (req) await this.send(req);
  }
}

export { sdk };
