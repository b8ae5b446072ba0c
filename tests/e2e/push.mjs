// Pushes small images straight to a registry of the test kit, outside the page, with a token
// from its token server (the kit's token registry, or the ACR emulator's /oauth2/token).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

export const sha256 = (bytes) => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;

/** A Bearer token for `scope` from `realm`, asked with Basic credentials. */
export async function tokenFor({ realm, service, username, password }, scope) {
  const url = new URL(realm);
  url.searchParams.set('service', service);
  url.searchParams.set('scope', scope);
  const basic = Buffer.from(`${username}:${password}`).toString('base64');
  const answer = await fetch(url, { headers: { Authorization: `Basic ${basic}` } });
  assert.equal(answer.status, 200, `a token for ${scope}`);
  const body = await answer.json();
  return body.token ?? body.access_token;
}

/** Pushes an image whose config is `config` (no layers) as `repo:tag`; returns its digest.
 *  Without `auth.realm`, anonymously (the kit's anonymous registry). */
export async function pushImage(auth, repo, tag, config = '{"architecture":"amd64","os":"linux"}') {
  const headers = auth.realm
    ? { Authorization: `Bearer ${await tokenFor(auth, `repository:${repo}:pull,push`)}` }
    : {};
  const bytes = Buffer.from(config);
  const post = await fetch(`${auth.registry}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  assert.equal(post.status, 202);
  const upload = new URL(post.headers.get('location'), auth.registry);
  upload.searchParams.set('digest', sha256(bytes));
  const put = await fetch(upload, { method: 'PUT', body: bytes, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
  assert.equal(put.status, 201);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(bytes), size: bytes.length },
    layers: [],
  });
  const r = await fetch(`${auth.registry}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT', body: manifest, headers: { ...headers, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(r.status, 201, 'manifest PUT');
  return sha256(Buffer.from(manifest));
}
