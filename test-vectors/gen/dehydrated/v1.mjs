export async function makeV1Device() { return { files: {}, manifest: null }; }
