// A TypeScript consumer of the npm package, type-checked with `tsc --noEmit` (the `npm package`
// step of `cargo xtask test`): it fails when the generated typings drift from the API the README
// documents. It is never run.
import init, {
  ContainerRegistryClient,
  ContainerRegistryContentClient,
  type ArtifactManifestProperties,
  type ArtifactTagProperties,
  type ContainerRepositoryProperties,
  type DownloadBlobResult,
  type GetManifestResult,
  type OciDescriptor,
  type RestError,
  type TokenCredential,
  type TransferProgressEvent,
  type UploadBlobResult,
} from "porthole";

export async function everything(file: File): Promise<void> {
  await init();
  const endpoint = "https://myregistry.azurecr.io";

  // Credentials: anonymous, basic, static token, getToken (an @azure/identity credential).
  const anonymous = new ContainerRegistryClient(endpoint);
  const anonymousWithOptions = new ContainerRegistryClient(endpoint, { tokenKind: "registry" });
  const basic = new ContainerRegistryClient(endpoint, { username: "u", password: "p" });
  const staticToken = new ContainerRegistryClient(endpoint, { token: "t" });
  const identity: TokenCredential = {
    getToken: async () => ({ token: "aad", expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
  const client = new ContainerRegistryClient(endpoint, identity, {
    audience: "https://management.azure.com",
  });
  const endpoints: string[] = [anonymous.endpoint, anonymousWithOptions.endpoint, basic.endpoint, staticToken.endpoint];

  // Paging: items, pages, continuation.
  const controller = new AbortController();
  for await (const name of client.listRepositoryNames({ abortSignal: controller.signal })) {
    const n: string = name;
    endpoints.push(n);
  }
  for await (const page of client.listRepositoryNames().byPage({ maxPageSize: 50 })) {
    const names: string[] = page;
    const token: string | undefined = page.continuationToken;
    if (token) {
      const next = await client.listRepositoryNames().byPage({ continuationToken: token }).next();
      if (!next.done) names.push(...next.value);
    }
  }

  // Repository.
  const repository = client.getRepository("library/hello");
  const name: string = repository.name;
  const props: ContainerRepositoryProperties = await repository.getProperties();
  const created: Date = props.createdOn;
  const updated: ContainerRepositoryProperties = await repository.updateProperties({ canDelete: false, abortSignal: controller.signal });
  for await (const manifest of repository.listManifestProperties({ order: "LastUpdatedOnDescending" })) {
    const m: ArtifactManifestProperties = manifest;
    const size: number | undefined = m.sizeInBytes;
    const tags: string[] = m.tags;
    void [size, tags, m.relatedArtifacts[0]?.operatingSystem];
  }
  for await (const tag of repository.listTagNames()) {
    const t: string = tag;
    void t;
  }

  // Artifact.
  const artifact = repository.getArtifact("v1");
  const same = client.getArtifact("library/hello", "v1");
  const fqr: string = artifact.fullyQualifiedReference + same.repositoryName + same.registryEndpoint;
  const manifestProps: ArtifactManifestProperties = await artifact.getManifestProperties();
  await artifact.updateManifestProperties({ canWrite: false });
  for await (const tag of artifact.listTagProperties({ order: "LastUpdatedOnAscending" })) {
    const t: ArtifactTagProperties = tag;
    const changed: Date = t.lastUpdatedOn;
    void changed;
  }
  const tag: ArtifactTagProperties = await artifact.getTagProperties("v1");
  await artifact.updateTagProperties("v1", { canDelete: true, canList: true, canRead: true, canWrite: true });
  await artifact.deleteTag("v1");
  await artifact.delete({ abortSignal: controller.signal });
  await repository.delete();
  await client.deleteRepository("library/old");

  // Content.
  const content = new ContainerRegistryContentClient(endpoint, "library/hello", { username: "u", password: "p" });
  const anonymousContent = new ContainerRegistryContentClient(endpoint, "library/hello");
  const progress: TransferProgressEvent[] = [];
  const uploaded: UploadBlobResult = await content.uploadBlob(file, {
    abortSignal: controller.signal,
    onProgress: (p) => progress.push(p),
    chunkSizeInBytes: 8 * 1024 * 1024,
  });
  await content.uploadBlob(new Uint8Array([1, 2, 3]));
  await content.uploadBlob(new ArrayBuffer(8));
  await content.uploadBlob(file.stream());
  const sizeInBytes: number = uploaded.sizeInBytes;
  const download: DownloadBlobResult = await content.downloadBlob(uploaded.digest);
  const stream: ReadableStream<Uint8Array> = download.content;
  const bytes: Uint8Array = await content.downloadBlobContent(uploaded.digest);
  const exists: boolean = await anonymousContent.blobExists(uploaded.digest);
  const mounted: boolean = await content.mountBlob(uploaded.digest, "library/other");
  const set = await content.setManifest(
    { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: {}, layers: [] },
    { tag: "v1", mediaType: "application/vnd.oci.image.manifest.v1+json" },
  );
  const got: GetManifestResult = await content.getManifest(set.digest);
  const raw: Uint8Array = got.content;
  const parsed: Record<string, unknown> = got.manifest;
  for await (const referrer of content.listReferrers(got.digest, { artifactType: "application/example" })) {
    const d: OciDescriptor = referrer;
    void d.annotations;
  }
  await content.deleteManifest(got.digest);
  await content.deleteBlob(uploaded.digest);

  // Errors.
  try {
    await content.getManifest("missing");
  } catch (e) {
    const error = e as RestError;
    const kind: "RestError" | "DigestMismatchError" | "AbortError" | "TimeoutError" = error.name;
    const code: string = error.code;
    const status: number | undefined = error.statusCode;
    const first: string | undefined = error.details[0]?.code;
    void [kind, code, status, first];
  }

  void [endpoints, name, created, updated, fqr, manifestProps, tag, sizeInBytes, stream, bytes, exists, mounted, raw, parsed, progress, content.endpoint, content.repositoryName];
}
