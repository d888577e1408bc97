// A tiny in-memory stand-in for the homeserver endpoints an OlmMachine talks to when it uploads
// device keys and cross-signing keys and queries them back: /keys/upload, /keys/query,
// /keys/device_signing/upload, /keys/signatures/upload. Trimmed from ../identity/hs.mjs.
import * as W from "@matrix-org/matrix-sdk-crypto-wasm";

const clone = (o) => JSON.parse(JSON.stringify(o));

export class FakeHomeserver {
  constructor() {
    this.devices = {}; // user -> device -> device_keys
    this.master = {}; // user -> key object
    this.selfSigning = {};
    this.userSigning = {};
  }

  uploadKeys(user, body) {
    if (body.device_keys) (this.devices[user] ??= {})[body.device_keys.device_id] = clone(body.device_keys);
    return { one_time_key_counts: { signed_curve25519: Object.keys(body.one_time_keys ?? {}).length } };
  }

  // POST /keys/device_signing/upload replaces the published keys (a cross-signing reset).
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

  // The POST /keys/query response as `viewer` sees it (user_signing_keys only for the viewer),
  // or the fixed body `this.fixedQuery` when set (a checker device replaying keys_query.json).
  query(viewer, users) {
    if (this.fixedQuery) return clone(this.fixedQuery);
    const res = { device_keys: {}, failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
    for (const u of users) {
      res.device_keys[u] = clone(this.devices[u] ?? {});
      if (this.master[u]) res.master_keys[u] = clone(this.master[u]);
      if (this.selfSigning[u]) res.self_signing_keys[u] = clone(this.selfSigning[u]);
      if (u === viewer && this.userSigning[u]) res.user_signing_keys[u] = clone(this.userSigning[u]);
    }
    return res;
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

  async send(req) {
    const body = JSON.parse(req.body);
    let resp;
    switch (req.type) {
      case W.RequestType.KeysUpload: resp = this.hs.uploadKeys(this.userId, body); break;
      case W.RequestType.KeysQuery: resp = this.hs.query(this.userId, Object.keys(body.device_keys)); break;
      case W.RequestType.KeysClaim: resp = { one_time_keys: {}, failures: {} }; break;
      case W.RequestType.SignatureUpload: resp = this.hs.uploadSignatures(this.userId, body); break;
      default: return; // to-device, room messages, backups: not used here
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

  /** OlmMachine.bootstrapCrossSigning(true) with its three requests sent, as js-sdk's resetCrossSigning does. */
  async bootstrapCrossSigning() {
    const r = await this.m.bootstrapCrossSigning(true);
    if (r.uploadKeysRequest) await this.send(r.uploadKeysRequest);
    this.hs.uploadSigningKeys(this.userId, JSON.parse(r.uploadSigningKeysRequest.body));
    await this.send(r.uploadSignaturesRequest);
    await this.processOutgoing();
    return r;
  }
}
